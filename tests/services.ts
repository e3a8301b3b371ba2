// The services the cluster tests need, brought by the tests themselves: a real
// PostgreSQL and a real Redis started from their Debian binaries in temporary
// folders on free ports, once per test process, stopped when it exits. Given
// RIM_TEST_PG_URL / RIM_TEST_REDIS_URL the tests use those instead. Every
// wait is on the server's own "ready" line, never on a clock.
import { RedisClient, SQL } from "bun";
import { chownSync, existsSync, mkdtempSync, readdirSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A port nobody listens on right now (the kernel's pick, released at once). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Resolves with the first line of a stream that matches, and keeps reading it (a full pipe would block the server); rejects when it ends first. */
function lineOf(stream: ReadableStream<Uint8Array>, pred: (line: string) => boolean, stderr: () => Promise<string>): Promise<string> {
  const seen: string[] = [];
  return new Promise((resolve, reject) => {
    void (async () => {
      const decoder = new TextDecoder();
      let buf = "";
      let found = false;
      for await (const chunk of stream) {
        if (found) continue;
        buf += decoder.decode(chunk, { stream: true });
        let nl: number;
        while (!found && (nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          seen.push(line);
          if (pred(line)) {
            found = true;
            resolve(line);
          }
        }
      }
      if (!found) reject(new Error("the server exited before it was ready:\n" + [...seen, await stderr()].join("\n")));
    })();
  });
}

/**
 * Runs a service under a shell that holds our end of a pipe: it starts the
 * service, and when the pipe closes (stop(), or this process ending in any
 * way, even SIGKILL: bun test runs no exit hooks) it stops the service and
 * removes its folder. Resolves once the service printed `ready` on stdout.
 */
async function supervise(script: string, ready: (line: string) => boolean): Promise<{ stop(): Promise<void> }> {
  const proc = Bun.spawn(["sh", "-c", script], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  proc.unref();
  try {
    await lineOf(proc.stdout, ready, () => new Response(proc.stderr).text());
  } catch (err) {
    proc.kill();
    throw err;
  }
  return {
    async stop() {
      proc.stdin.end();
      await proc.exited;
    },
  };
}

/**
 * Which of the services the tests start are not installed (and not given by URL). npm test installs
 * them when it runs as root; as another user without them, their tests are left out with a warning
 * (scripts/test.sh), as the browser tests are without Chromium, and on CI they fail saying why.
 */
export const servicesMissing: string[] = [
  ...(process.env.RIM_TEST_PG_URL || (existsSync("/usr/lib/postgresql") && readdirSync("/usr/lib/postgresql").some((v) => existsSync(join("/usr/lib/postgresql", v, "bin/initdb")))) ? [] : ["postgresql"]),
  ...(process.env.RIM_TEST_REDIS_URL || Bun.which("redis-server") ? [] : ["redis-server"]),
];

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

// ---------------------------------------------------------------- PostgreSQL

const asRoot = process.getuid?.() === 0;

function postgresBin(): string {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, "bin/initdb"))) : [];
  if (versions.length === 0) throw new Error("PostgreSQL is not installed: apt-get install -y postgresql (npm test does when it can)");
  return join(root, versions.sort((a, b) => Number(b) - Number(a))[0]!, "bin");
}

export type PostgresServer = {
  /** The URL of its `postgres` database. */
  readonly url: string;
  /** `pg_ctl stop` in that mode (fast: sessions told to end; immediate: no shutdown at all, as a crash), once it is down. */
  stop(mode: "fast" | "immediate"): Promise<void>;
  /** `pg_ctl start` on the same port and data, once it accepts connections again. */
  start(): Promise<void>;
  /** Stops it for good and removes its folder. */
  close(): Promise<void>;
};

/**
 * Starts a PostgreSQL server of its own (initdb in a temporary folder, a free port), stopped and
 * removed by close() or when this process ends. Tests that stop PostgreSQL start one of these, so
 * the shared one (postgresServer) stays up for everybody else.
 */
export async function startPostgres(): Promise<PostgresServer> {
  // Another process may take the free port before PostgreSQL binds it (the machine is shared): another port then.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startPostgresOnce();
    } catch (err) {
      if (attempt >= 3 || !/Address already in use/.test(String(err))) throw err;
    }
  }
}

async function startPostgresOnce(): Promise<PostgresServer> {
  const bin = postgresBin();
  const dir = mkdtempSync(join(tmpdir(), "rim-pg-"));
  // PostgreSQL refuses to run as root: as root, its commands run as the postgres user, in a folder it owns.
  let as = "";
  if (asRoot) {
    const ids = (await Bun.$`id -u postgres && id -g postgres`.quiet().nothrow()).stdout.toString().trim().split("\n");
    if (ids.length !== 2) throw new Error("running as root, and there is no postgres user to run PostgreSQL as (apt-get install -y postgresql creates it)");
    chownSync(dir, Number(ids[0]), Number(ids[1]));
    as = "runuser -u postgres -- ";
  }
  const port = await freePort();
  const data = join(dir, "data");
  // fsync off: a test server's durability is not under test, and it makes every commit cheap.
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  const pgCtl = (args: string) => `${as}${q(join(bin, "pg_ctl"))} ${args} -D ${q(data)}`;
  // pg_ctl -w returns once the server accepts connections (or failed to start).
  const start = `${pgCtl(`start -w -l ${q(dir)}/log -o ${q(options)}`)} >/dev/null 2>&1 || { cat ${q(dir)}/log >&2; exit 1; }`;
  const script = [
    `${as}${q(join(bin, "initdb"))} -D ${q(data)} -U rim --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync >${q(dir)}/initdb.log 2>&1 || { cat ${q(dir)}/initdb.log >&2; rm -rf ${q(dir)}; exit 1; }`,
    start.replace("exit 1;", `rm -rf ${q(dir)}; exit 1;`),
    "echo ready",
    "read _",
    `${pgCtl("stop -w -m immediate")} >/dev/null 2>&1`,
    `rm -rf ${q(dir)}`,
  ].join("\n");
  const supervisor = await supervise(script, (l) => l === "ready");
  const run = async (cmd: string) => {
    const r = await Bun.$`sh -c ${cmd}`.quiet().nothrow();
    if (r.exitCode !== 0) throw new Error(`${cmd}: exit ${r.exitCode}\n${r.stderr.toString()}`);
  };
  return {
    url: `postgres://rim@127.0.0.1:${port}/postgres`,
    // -w: pg_ctl returns once the server is gone (its pid file removed).
    stop: (mode) => run(`${pgCtl(`stop -w -m ${mode}`)} >/dev/null`),
    start: () => run(start),
    close: () => supervisor.stop(),
  };
}

let pgServer: Promise<string> | undefined;

/** The URL of the test PostgreSQL server's maintenance database (RIM_TEST_PG_URL, or one started on first use). */
export function postgresServer(): Promise<string> {
  return (pgServer ??= process.env.RIM_TEST_PG_URL ? Promise.resolve(process.env.RIM_TEST_PG_URL) : startPostgres().then((s) => s.url));
}

let databases = 0;

/** A new empty database on the test server (or on `on`, a server's maintenance URL), for one test: its URL, and a drop that waits until it is gone. */
export async function freshDatabase(on?: string): Promise<{ url: string; drop(): Promise<void> }> {
  const server = on ?? (await postgresServer());
  const name = `rim_test_${process.pid}_${++databases}`;
  const admin = new SQL(server, { max: 1 });
  try {
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await admin.close();
  }
  const url = new URL(server);
  url.pathname = "/" + name;
  return {
    url: url.toString(),
    async drop() {
      const admin = new SQL(server, { max: 1 });
      try {
        await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await admin.close();
      }
    },
  };
}

// ---------------------------------------------------------------------- Redis

export type RedisServer = {
  readonly url: string;
  /** Stops it (SIGTERM) and resolves once it exited. */
  stop(): Promise<void>;
  /** Starts it again on the same port, resolving once it is ready. */
  start(): Promise<void>;
  /** Freezes the process (SIGSTOP): connections stay open and nothing is answered until resume(). */
  pause(): Promise<void>;
  /** Lets a paused server go on (SIGCONT). */
  resume(): void;
};

/** A redis-server of this test's own, on a free port, with no persistence; stopped when this process ends. */
export async function startRedis(): Promise<RedisServer> {
  if (!Bun.which("redis-server")) throw new Error("redis-server is not installed: apt-get install -y redis-server (npm test does when it can)");
  const dir = mkdtempSync(join(tmpdir(), "rim-redis-"));
  const port = await freePort();
  let running: { stop(): Promise<void> } | undefined;
  const script = [
    `mkdir -p ${q(dir)}`,
    `redis-server --port ${port} --bind 127.0.0.1 --save '' --appendonly no --dir ${q(dir)} &`,
    "pid=$!",
    "read _",
    "kill $pid; wait $pid",
    `rm -rf ${q(dir)}`,
  ].join("\n");
  const server: RedisServer = {
    url: `redis://127.0.0.1:${port}`,
    async start() {
      running = await supervise(script, (l) => l.includes("Ready to accept connections"));
    },
    async stop() {
      server.resume();
      const r = running;
      running = undefined;
      await r?.stop();
    },
    async pause() {
      // Its pid, from itself: the supervising shell stands between us and it.
      const client = new RedisClient(server.url);
      try {
        const info = String(await client.send("INFO", ["server"]));
        pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
      } finally {
        client.close();
      }
      if (!(pid > 0)) throw new Error("redis-server's pid not found in INFO");
      process.kill(pid, "SIGSTOP");
    },
    resume() {
      if (pid > 0) process.kill(pid, "SIGCONT");
    },
  };
  let pid = 0;
  await server.start();
  return server;
}

let redisServer: Promise<string> | undefined;

/** The URL of the shared test Redis (RIM_TEST_REDIS_URL, or one started on first use). Tests that stop Redis start their own. */
export function redisUrl(): Promise<string> {
  return (redisServer ??= process.env.RIM_TEST_REDIS_URL ? Promise.resolve(process.env.RIM_TEST_REDIS_URL) : startRedis().then((s) => s.url));
}

// ------------------------------------------------------------- a cuttable link

export type TcpProxy = {
  readonly port: number;
  /** Refuses new connections and cuts the open ones, both ends (as if the server behind it were gone). */
  cut(): void;
  /** Accepts connections again, on the same port. */
  restore(): void;
  /** Holds every byte either way from now on, closing nothing: a path gone silent (TCP still retransmitting). */
  mute(): void;
  /** Delivers what it held, in order, and forwards again. */
  unmute(): void;
};

/** A TCP proxy to 127.0.0.1:target on a free port of its own, for tests that take a service away and bring it back. */
export async function tcpProxy(target: number): Promise<TcpProxy> {
  type Side = { peer: Bun.Socket<Side> | null; queued: Uint8Array[] };
  const open = new Set<Bun.Socket<Side>>();
  let muted = false;
  const held: [Bun.Socket<Side>, Uint8Array][] = [];
  const handlers = {
    data(s: Bun.Socket<Side>, chunk: Uint8Array) {
      if (muted) return void held.push([s, new Uint8Array(chunk)]);
      if (s.data.peer) s.data.peer.write(chunk);
      else s.data.queued.push(new Uint8Array(chunk));
    },
    close(s: Bun.Socket<Side>) {
      open.delete(s);
      s.data.peer?.end();
    },
    error(s: Bun.Socket<Side>) {
      s.data.peer?.end();
    },
  };
  const port = await freePort();
  let listener: Bun.TCPSocketListener<Side> | null = null;
  const listen = () => {
    listener = Bun.listen<Side>({
      hostname: "127.0.0.1",
      port,
      socket: {
        ...handlers,
        open(client) {
          client.data = { peer: null, queued: [] };
          open.add(client);
          void Bun.connect<Side>({ hostname: "127.0.0.1", port: target, data: { peer: client, queued: [] }, socket: {
            ...handlers,
            open(upstream) {
              open.add(upstream);
              client.data.peer = upstream;
              for (const c of client.data.queued.splice(0)) upstream.write(c);
            },
          } }).catch(() => client.end());
        },
      },
    });
  };
  listen();
  return {
    port,
    cut() {
      listener?.stop(true);
      listener = null;
      for (const s of open) s.end();
      open.clear();
    },
    restore() {
      if (!listener) listen();
    },
    mute() {
      muted = true;
    },
    unmute() {
      muted = false;
      for (const [s, chunk] of held.splice(0)) handlers.data(s, chunk);
    },
  };
}
