// One line per event. Callers pass fields, never tokens or passwords.
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
export type Logger = Record<Exclude<LogLevel, "silent">, (event: string, fields?: Record<string, unknown>) => void>;

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

// Each write to stderr is a system call and, on a pipe, a wake-up of its reader
// (journald, a supervisor): one line per REST request cost ≈ 8 % of the
// server's busy time at 1,000 requests a second (BENCHMARKS.md, run 5). So
// lines are gathered and written together, at most once every FLUSH_MS (the
// first after a quiet spell at the end of its turn); a warning or an error
// goes out at once, with every line before it; and whatever waits is written
// when the process exits.
const FLUSH_MS = 10;
let stderrLines: ((line: string, urgent: boolean) => void) | null = null;

function batchedStderr(): (line: string, urgent: boolean) => void {
  let lines: string[] = [];
  let timer: ReturnType<typeof setTimeout> | null = null;
  let last = -Infinity;
  const flush = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    if (lines.length === 0) return;
    const text = lines.join("\n") + "\n";
    lines = [];
    last = performance.now();
    // A closed stderr (a supervisor gone away) must never take the server down.
    try {
      process.stderr.write(text);
    } catch {}
  };
  process.on("exit", flush);
  return (line, urgent) => {
    lines.push(line);
    if (urgent) return flush();
    if (timer === null) {
      timer = setTimeout(flush, Math.max(0, last + FLUSH_MS - performance.now()));
      // A command that is done does not wait for its last lines: they are written on exit.
      timer.unref?.();
    }
  };
}

export function createLogger(opts: { level: LogLevel; format: "text" | "json"; write?: (line: string) => void }): Logger {
  const custom = opts.write;
  const write: (line: string, urgent: boolean) => void = custom ? (line) => custom(line) : (stderrLines ??= batchedStderr());
  const at = (level: Exclude<LogLevel, "silent">) => (event: string, fields: Record<string, unknown> = {}) => {
    if (RANK[level] < RANK[opts.level]) return;
    const time = new Date().toISOString();
    const urgent = RANK[level] >= RANK.warn;
    if (opts.format === "json") write(JSON.stringify({ time, level, event, ...fields }), urgent);
    else {
      const rest = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === "string" ? JSON.stringify(v) : String(v)}`);
      write([time, level.toUpperCase().padEnd(5), event, ...rest].join(" "), urgent);
    }
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}
