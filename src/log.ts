// One line per event. Callers pass fields, never tokens or passwords.
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
export type Logger = Record<Exclude<LogLevel, "silent">, (event: string, fields?: Record<string, unknown>) => void>;

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export function createLogger(opts: { level: LogLevel; format: "text" | "json"; write?: (line: string) => void }): Logger {
  // A closed stderr (a supervisor gone away) must never take the server down.
  const write = opts.write ?? ((line: string) => {
    try {
      process.stderr.write(line + "\n");
    } catch {}
  });
  const at = (level: Exclude<LogLevel, "silent">) => (event: string, fields: Record<string, unknown> = {}) => {
    if (RANK[level] < RANK[opts.level]) return;
    const time = new Date().toISOString();
    if (opts.format === "json") write(JSON.stringify({ time, level, event, ...fields }));
    else {
      const rest = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === "string" ? JSON.stringify(v) : String(v)}`);
      write([time, level.toUpperCase().padEnd(5), event, ...rest].join(" "));
    }
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}
