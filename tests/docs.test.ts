// The published API descriptions stay true to the routes and frames.
import { expect, test } from "bun:test";
import { EVENTS } from "../src/protocol/frames";
import { resyncFrame } from "../src/push";
import { call, makeApp } from "./helpers";

const app = await makeApp();

// Routes are declared once, with createRoute, and the document is generated
// from those declarations: a route added with a plain .get/.post (or hidden)
// is served but not documented, and fails here.
test("every /api route is declared with createRoute: the generated document lists exactly the routes served", async () => {
  const doc = (await call(app, "GET", "/api/openapi.json")).body;
  expect(doc.openapi).toBe("3.1.0");
  const documented = new Set(Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops as object).map((m) => `${m.toUpperCase()} ${path}`)));
  const served = new Set(
    app.http.routes
      .filter((r) => r.path.startsWith("/api/") && r.method !== "ALL" && !r.path.endsWith(".json"))
      // Hono's /api/file/:id is OpenAPI's /api/file/{id}.
      .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`),
  );
  expect(documented.size).toBeGreaterThan(0);
  expect([...served].sort()).toEqual([...documented].sort());
});

test("every operation: a summary, its security stated (bearerAuth or none, as the server enforces), the envelope on 200 and on errors", async () => {
  const doc = (await call(app, "GET", "/api/openapi.json")).body;
  expect(doc.components.securitySchemes.bearerAuth).toEqual({ type: "http", scheme: "bearer" });
  expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(["User", "Group", "MessageInfo", "ChatMessage"]));
  for (const [path, ops] of Object.entries<any>(doc.paths)) {
    for (const [method, op] of Object.entries<any>(ops)) {
      expect(op.summary?.length).toBeGreaterThan(0);
      expect([[], [{ bearerAuth: [] }]]).toContainEqual(op.security);
      // Without a token the server refuses exactly the routes documented as needing one.
      const r = await call(app, method.toUpperCase() as "GET" | "POST", path, method === "post" ? { body: {} } : {});
      expect(`${method} ${path} ${r.status === 401}`).toBe(`${method} ${path} ${op.security.length > 0}`);
      // A download answers with the file's bytes; every other route with the envelope.
      const ok = op.responses[200].content["application/json"]?.schema ?? (path === "/api/file/{id}" ? { required: ["ok", "code", "msg", "data"], properties: { ok: { enum: [true] } } } : undefined);
      expect(ok.required).toEqual(["ok", "code", "msg", "data"]);
      expect(ok.properties.ok).toMatchObject({ enum: [true] });
      for (const status of ["400", "401", "403", "404", "409", "413", "429"]) {
        expect(op.responses[status].content["application/json"].schema.properties.ok).toMatchObject({ enum: [false] });
      }
    }
  }
});

test("OpenAPI request schemas carry the validation rules", async () => {
  const doc = (await call(app, "GET", "/api/openapi.json")).body;
  const create = doc.paths["/api/user/create"].post;
  expect(create.security).toEqual([]);
  const body = create.requestBody.content["application/json"].schema;
  expect(body.required).toEqual(expect.arrayContaining(["account", "password"]));
  expect(body.properties.account).toMatchObject({ minLength: 3, maxLength: 64 });
  const change = doc.paths["/api/group/user/change"].post.requestBody.content["application/json"].schema;
  expect(JSON.stringify(change.properties.opType)).toContain("2");
  const history = doc.paths["/api/message/history"].post.responses[200].content["application/json"].schema;
  expect(history.properties.data.items).toEqual({ $ref: "#/components/schemas/ChatMessage" });
  expect(doc.components.schemas.ChatMessage.properties.msg).toEqual({ $ref: "#/components/schemas/MessageInfo" });
  expect(doc.components.schemas.MessageInfo.required).toContain("client_msg_id");
  const friends = doc.paths["/api/friend/list"].get.parameters;
  expect(friends).toContainEqual(expect.objectContaining({ name: "status", in: "query", required: true }));
  expect(friends).toContainEqual(expect.objectContaining({ name: "dir", in: "query", required: false }));
});

test("the WebSocket schema covers every client event and server frame", async () => {
  const schema = (await call(app, "GET", "/api/ws-schema.json")).body;
  expect(Object.keys(schema.client).sort()).toEqual([...EVENTS].sort());
  expect(schema.client.Msg.properties.body.required).toEqual(expect.arrayContaining(["gid", "kind", "content", "clientMsgId"]));
  expect(Object.keys(schema.server).sort()).toEqual(["Ack", "ErrorAck", "MsgPush", "Notify", "Resync"]);
  // The cluster's Resync, exactly as src/push.ts builds it.
  const resync = schema.server.Resync.properties.body;
  expect(Object.fromEntries(Object.entries(resync.properties).map(([k, v]) => [k, (v as { type?: string }).type === "null" ? null : (v as { const?: unknown }).const]))).toEqual(JSON.parse(resyncFrame).body);
  expect(resync.required.sort()).toEqual(Object.keys(JSON.parse(resyncFrame).body).sort());
});

test("the docs page is public, embedded and fetches only our own JSON", async () => {
  const r = await call(app, "GET", "/docs");
  expect(r.status).toBe(200);
  expect(r.body).toContain("rim REST API");
  expect(r.body).not.toMatch(/https?:\/\/(?!json-schema)/);
  expect((await call(app, "GET", "/api/openapi.json")).status).toBe(200);
});
