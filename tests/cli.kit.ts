// `rim serve` as a real child process (bun src/main.ts), for what only a
// process shows: its exit code, what it writes to stderr, its memory. Every
// wait is on the process's own output or exit, never on a clock.
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..");
/** Cheap argon2 so that a spawned server starts and logs users in fast. */
export const CHEAP = ["--argon2-memory", "256", "--argon2-time", "1"];

export type RimProcess = {
  readonly proc: Bun.Subprocess<"ignore", "ignore", "pipe">;
  /** Every stderr line so far (the whole of it once `exited` resolved). */
  readonly lines: string[];
  /** The URL from its server.listening log line; null if it exited without listening. */
  readonly listening: Promise<string | null>;
  /** Its exit code, once its stderr is read to the end. */
  readonly exited: Promise<number>;
  /** The first stderr line, seen or still to come, that matches; rejects if the process exits first. */
  line(pred: (line: string) => boolean): Promise<string>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number>;
};

/** Starts `bun src/main.ts ...args` with stderr piped and read line by line. */
export function spawnRim(args: string[]): RimProcess {
  const proc = Bun.spawn([process.execPath, "src/main.ts", ...args], { cwd: ROOT, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const lines: string[] = [];
  let found!: (url: string | null) => void;
  const listening = new Promise<string | null>((res) => (found = res));
  let waiters: { pred: (line: string) => boolean; resolve: (line: string) => void; reject: (err: Error) => void }[] = [];
  const drained = (async () => {
    const decoder = new TextDecoder();
    let buf = "";
    for await (const chunk of proc.stderr) {
      buf += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        lines.push(line);
        waiters = waiters.filter((w) => !(w.pred(line) && (w.resolve(line), true)));
        // Text (url="…") or JSON ("url":"…") log lines.
        const m = /server\.listening.*?\burl"?[=:]"([^"]+)"/.exec(line);
        if (m) found(m[1]!);
      }
    }
    if (buf) lines.push(buf);
    found(null);
    for (const w of waiters.splice(0)) w.reject(new Error("rim exited; its stderr:\n" + lines.join("\n")));
  })();
  const exited = drained.then(() => proc.exited);
  return {
    proc,
    lines,
    listening,
    exited,
    line(pred) {
      const seen = lines.find(pred);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiters.push({ pred, resolve, reject });
        // Already drained: nothing more will come.
        void drained.then(() => waiters.some((w) => w.pred === pred) && reject(new Error("rim exited; its stderr:\n" + lines.join("\n"))));
      });
    },
    stop() {
      proc.kill("SIGTERM");
      return exited;
    },
  };
}

/** Peak resident memory of a process so far, in bytes (Linux: VmHWM in /proc/PID/status). */
export async function peakRss(pid: number): Promise<number> {
  const status = await Bun.file(`/proc/${pid}/status`).text();
  const kb = /^VmHWM:\s+(\d+) kB$/m.exec(status);
  if (!kb) throw new Error("no VmHWM in /proc/" + pid + "/status");
  return Number(kb[1]) * 1024;
}
