// Processes of a run: the server under test pinned to core 0, load
// generators pinned to core 1 (when taskset exists and there are two cores),
// each with its open-file limit raised to the hard limit.
import type { Subprocess } from "bun";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dir, "../..");
export const CORES = navigator.hardwareConcurrency;
export const PINNED = Bun.which("taskset") !== null && CORES >= 2;
export const SERVER_CORE = 0;
export const CLIENT_CORE = 1;

/** A command line run through sh to raise `ulimit -n`, and taskset to pin it (core -1: not pinned). */
export function pinned(core: number, cmd: string[]): string[] {
  const inner = PINNED && core >= 0 ? ["taskset", "-c", String(core), ...cmd] : cmd;
  return ["sh", "-c", 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', "sh", ...inner];
}

/** Reads a stream line by line into a bounded tail, calling `onLine` for each. */
async function pump(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void) {
  const dec = new TextDecoder();
  let buf = "";
  for await (const chunk of stream) {
    buf += dec.decode(chunk, { stream: true });
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      onLine(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  }
  if (buf) onLine(buf);
}

export type ServerKind = "rim" | "ceiling";

export type ServerOptions = {
  kind: ServerKind;
  /** rim: the command that runs `rim` (the compiled binary, or bun + src/main.ts). */
  rimCmd?: string[];
  db?: string;
  args?: string[];
  env?: Record<string, string>;
  /** false: not pinned to the server core (the cluster runs, where nodes, PostgreSQL and Redis share both cores). */
  pin?: boolean;
};

export type ServerProc = {
  kind: ServerKind;
  pid: number;
  url: string;
  wsUrl: string;
  proc: Subprocess;
  tail(): string[];
  stop(): Promise<void>;
};

/** Starts a server on a free port and waits for its listening line. */
export async function startServer(o: ServerOptions): Promise<ServerProc> {
  const cmd =
    o.kind === "ceiling"
      ? ["bun", join(ROOT, "bench/ceiling.ts"), ...(o.args ?? [])]
      : [
          ...(o.rimCmd ?? [join(ROOT, "dist/rim")]),
          "serve",
          "--host", "127.0.0.1",
          "--port", "0",
          "--db", o.db!,
          "--ws-rate", "0",
          "--max-sockets-per-user", "0",
          "--log-format", "json",
          "--log-level", "info",
          ...(o.args ?? []),
        ];
  const proc = Bun.spawn(o.pin === false ? pinned(-1, cmd) : pinned(SERVER_CORE, cmd), { cwd: ROOT, stdout: "ignore", stderr: "pipe", stdin: "ignore", env: { ...process.env, ...o.env } });
  const lines: string[] = [];
  let listening: (url: string) => void;
  const ready = new Promise<string>((res) => (listening = res));
  void pump(proc.stderr as ReadableStream<Uint8Array>, (line) => {
    lines.push(line);
    if (lines.length > 200) lines.shift();
    if (line.includes("server.listening")) {
      try {
        listening(JSON.parse(line).url);
      } catch {}
    }
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const url = await Promise.race([
    ready,
    proc.exited.then((code) => {
      throw new Error(`${o.kind} server exited (${code}) before listening:\n${lines.join("\n")}`);
    }),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        proc.kill("SIGKILL");
        reject(new Error(`${o.kind} server did not listen within 20 s:\n${lines.join("\n")}`));
      }, 20_000);
    }),
  ]).finally(() => clearTimeout(timer));
  return {
    kind: o.kind,
    pid: proc.pid,
    url,
    wsUrl: url.replace(/^http/, "ws") + "/ws",
    proc,
    tail: () => lines.slice(),
    async stop() {
      if (proc.exitCode !== null) return;
      proc.kill("SIGTERM");
      let t: ReturnType<typeof setTimeout> | undefined;
      const done = await Promise.race([proc.exited.then(() => true), new Promise<boolean>((r) => (t = setTimeout(() => r(false), 10_000)))]);
      clearTimeout(t);
      if (!done) {
        proc.kill("SIGKILL");
        await proc.exited;
      }
    },
  };
}

let clientN = 0;

export type ClientProc = {
  pid: number;
  /** Resolves with the line that starts with `prefix` (without it), parsed as JSON. */
  waitLine(prefix: string, timeoutMs: number): Promise<any>;
  /** Closes the client's stdin: its signal to let go and report. */
  release(): void;
  /** The RESULT line, parsed. */
  result: Promise<any>;
  kill(): void;
};

/** Runs a load generator (bench/clients/<name>.ts) with its config in a file; it prints `RESULT {json}`. */
export function startClient(name: string, config: unknown, opts: { dir: string; timeoutMs: number; core?: number }): ClientProc {
  const file = join(opts.dir, `client-${name}-${++clientN}.json`);
  writeFileSync(file, JSON.stringify(config));
  const proc = Bun.spawn(pinned(opts.core ?? CLIENT_CORE, ["bun", join(ROOT, "bench/clients", name + ".ts"), file]), {
    cwd: ROOT,
    stdout: "pipe",
    stderr: "inherit",
    stdin: "pipe",
  });
  const seen: string[] = [];
  const waiters: { prefix: string; resolve: (v: any) => void }[] = [];
  const onLine = (line: string) => {
    seen.push(line);
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i]!;
      if (line.startsWith(w.prefix + " ")) {
        waiters.splice(i, 1);
        w.resolve(JSON.parse(line.slice(w.prefix.length + 1)));
      }
    }
  };
  const pumped = pump(proc.stdout as ReadableStream<Uint8Array>, onLine);
  const killer = setTimeout(() => proc.kill("SIGKILL"), opts.timeoutMs);
  const waitLine = (prefix: string, timeoutMs: number) => {
    const hit = seen.find((l) => l.startsWith(prefix + " "));
    if (hit) return Promise.resolve(JSON.parse(hit.slice(prefix.length + 1)));
    return new Promise<any>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`client ${name}: no ${prefix} line within ${timeoutMs} ms`)), timeoutMs);
      waiters.push({ prefix, resolve: (v) => (clearTimeout(t), resolve(v)) });
      proc.exited.then(async (code) => {
        await pumped;
        reject(new Error(`client ${name} exited (${code}) without a ${prefix} line`));
      });
    });
  };
  const result = (async () => {
    const code = await proc.exited;
    await pumped;
    clearTimeout(killer);
    const line = seen.findLast((l) => l.startsWith("RESULT "));
    if (!line) throw new Error(`client ${name} exited (${code}) without a RESULT line`);
    return JSON.parse(line.slice(7));
  })();
  result.catch(() => {});
  return {
    pid: proc.pid,
    waitLine,
    release() {
      try {
        (proc.stdin as import("bun").FileSink).end();
      } catch {}
    },
    result,
    kill: () => proc.kill("SIGKILL"),
  };
}

/** Runs a load generator to completion and returns its RESULT. */
export async function runClient(name: string, config: unknown, opts: { dir: string; timeoutMs: number; core?: number }): Promise<any> {
  const c = startClient(name, config, opts);
  c.release();
  return c.result;
}
