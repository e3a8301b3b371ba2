// The ceiling: the least a server speaking our protocol can do. Login is
// answered with an Ack and subscribes the socket to the group named in the
// frame (`gid`, which rim's clients send and our server ignores); Msg gets an
// id, an Ack, and a push of the same shape as ours published to the group's
// topic. No storage, no validation, no auth. Same Bun, same socket options.
//   bun bench/ceiling.ts [--port N]
const portArg = process.argv.indexOf("--port");
const port = portArg > 0 ? Number(process.argv[portArg + 1]) : 0;

type Data = { uid: number | null };

const pad = (n: number) => (n < 10 ? "0" + n : String(n));
const formatTime = (ms: number) => {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
};

let nextId = 1;
const seqs = new Map<number, number>();
const ack = (clientMsgId: unknown, serverMsgId: number | null, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ clientMsgId, serverMsgId, kind: "Ack", content: "Ok", ...extra });

const server = Bun.serve<Data>({
  hostname: "127.0.0.1",
  port,
  fetch(req, srv) {
    if (srv.upgrade(req, { data: { uid: null } })) return undefined;
    return new Response("ceiling");
  },
  websocket: {
    maxPayloadLength: 64 * 1024,
    backpressureLimit: 1024 * 1024,
    closeOnBackpressureLimit: true,
    idleTimeout: 120,
    sendPings: true,
    perMessageDeflate: false,
    message(ws, raw) {
      const f = JSON.parse(String(raw));
      const b = f.body ?? {};
      switch (f.event) {
        case "Login": {
          ws.data.uid = b.uid ?? 0;
          ws.subscribe(`u:${ws.data.uid}`);
          for (const gid of Array.isArray(b.gids) ? b.gids : b.gid ? [b.gid] : []) ws.subscribe(`g:${gid}`);
          ws.send(ack(b.clientMsgId, null));
          return;
        }
        case "Msg": {
          const id = nextId++;
          const seq = (seqs.get(b.gid) ?? 0) + 1;
          seqs.set(b.gid, seq);
          const now = Date.now();
          ws.send(ack(b.clientMsgId, id, { seq }));
          ws.publish(
            `g:${b.gid}`,
            JSON.stringify({
              event: "Msg",
              body: { kind: b.kind, uid: ws.data.uid, gid: b.gid, content: b.content, clientMsgId: b.clientMsgId, msgId: id, seq, createTime: formatTime(now) },
            }),
          );
          return;
        }
        default:
          ws.send(ack(b.clientMsgId, null));
      }
    },
  },
});

// The same listening line as rim's JSON log, so the bench finds the port alike.
console.error(JSON.stringify({ time: new Date().toISOString(), level: "info", event: "server.listening", url: `http://127.0.0.1:${server.port}` }));
const stop = () => {
  server.stop(true);
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
