// Cold start: exec of the compiled binary (pinned to the server core) to the
// first WebSocket Ack of a Login, on an existing database; repeated.
import { statSync } from "node:fs";
import { readConfig, runMain } from "../lib/client";
import { CLIENT_CORE, PINNED, SERVER_CORE } from "../lib/spawn";
import { Samples, round } from "../lib/stats";
import { connectWs, request, type Conn } from "../lib/ws";

export type ColdStartConfig = { binary: string; db: string; uid: number; token: string; runs: number };

async function freePort(): Promise<number> {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

runMain(async () => {
  const cfg = readConfig<ColdStartConfig>();
  void CLIENT_CORE;
  const toAck = new Samples();
  const toListen = new Samples();
  let attemptsTotal = 0;
  for (let run = 0; run < cfg.runs; run++) {
    const port = await freePort();
    const cmd = [cfg.binary, "serve", "--host", "127.0.0.1", "--port", String(port), "--db", cfg.db, "--log-level", "warn", "--ws-rate", "0", "--max-sockets-per-user", "0"];
    const t0 = performance.now();
    const proc = Bun.spawn(PINNED ? ["taskset", "-c", String(SERVER_CORE), ...cmd] : cmd, { stdout: "ignore", stderr: "inherit", stdin: "ignore" });
    let conn: Conn | null = null;
    let listenedAt = 0;
    const deadline = t0 + 10_000;
    while (!conn && performance.now() < deadline && proc.exitCode === null) {
      attemptsTotal++;
      try {
        conn = await connectWs({ host: "127.0.0.1", port, path: "/ws" }, 5000);
        listenedAt = performance.now();
      } catch {
        await Bun.sleep(1);
      }
    }
    if (!conn) throw new Error(`rim did not accept a socket within 10 s (exit ${proc.exitCode})`);
    const ack = await request(conn, { event: "Login", body: { kind: "Text", uid: cfg.uid, content: cfg.token, clientMsgId: "cold" } });
    const t1 = performance.now();
    if (ack.content !== "Ok") throw new Error("login refused: " + JSON.stringify(ack));
    toAck.add(t1 - t0);
    toListen.add(listenedAt - t0);
    conn.close();
    proc.kill("SIGTERM");
    await proc.exited;
  }
  return {
    binary_mb: round(statSync(cfg.binary).size / 2 ** 20, 1),
    runs: cfg.runs,
    exec_to_upgrade_ms: toListen.summary(),
    exec_to_ack_ms: toAck.summary(),
    connect_attempts: attemptsTotal,
  };
});
