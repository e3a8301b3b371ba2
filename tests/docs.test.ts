// The published API descriptions stay true to the routes and frames.
import { expect, test } from "bun:test";
import { EVENTS } from "../src/ws/frames";
import { call, makeApp } from "./helpers";

const app = makeApp();

test("every /api route the server answers is in the OpenAPI document, and nothing else", async () => {
  const doc = (await call(app, "GET", "/api/openapi.json")).body;
  expect(doc.openapi).toBe("3.1.0");
  const documented = new Set(Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops as object).map((m) => `${m.toUpperCase()} ${path}`)));
  const served = new Set(
    app.http.routes
      .filter((r) => r.path.startsWith("/api/") && r.method !== "ALL" && !r.path.endsWith(".json"))
      // Hono's /api/file/:id is OpenAPI's /api/file/{id}.
      .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`),
  );
  expect([...served].sort()).toEqual([...documented].sort());
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
  expect(JSON.stringify(history)).toContain("client_msg_id");
});

test("the WebSocket schema covers every client event and server frame", async () => {
  const schema = (await call(app, "GET", "/api/ws-schema.json")).body;
  expect(Object.keys(schema.client).sort()).toEqual([...EVENTS].sort());
  expect(schema.client.Msg.properties.body.required).toEqual(expect.arrayContaining(["gid", "kind", "content", "clientMsgId"]));
  expect(Object.keys(schema.server).sort()).toEqual(["Ack", "ErrorAck", "MsgPush", "Notify"]);
});

test("the docs page is public, embedded and fetches only our own JSON", async () => {
  const r = await call(app, "GET", "/docs");
  expect(r.status).toBe(200);
  expect(r.body).toContain("rim REST API");
  expect(r.body).not.toMatch(/https?:\/\/(?!json-schema)/);
  expect((await call(app, "GET", "/api/openapi.json")).status).toBe(200);
});
