// The only reader of process.env and process.argv. Every knob is one row of
// OPTIONS: a flag, an env variable, a zod schema with its default, and help.
import { z } from "zod";
import { isAddressList } from "./net";

// Decimal digits only: z.coerce alone would read "" and "  " as 0 (so `--port=` meant a random port).
const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.union([z.number(), z.string().trim().regex(/^-?\d+$/, "expected an integer").transform(Number)]).pipe(z.number().int().min(min).max(max));
const bool = z.union([z.boolean(), z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1")]);

export const OPTIONS = {
  host: { schema: z.string().min(1).default("0.0.0.0"), help: "address to listen on" },
  port: { schema: int(0, 65535).default(8000), help: "HTTP and WebSocket port (0 picks a free one)" },
  db: {
    schema: z.string().min(1).refine(isDatabaseLocation).default("./data/rim.db"),
    expects: "a SQLite file or a postgres://USER@HOST:PORT/DB URL",
    placeholder: "<file|url>",
    help: "SQLite database file (created with its folder if missing), or a PostgreSQL URL postgres://USER@HOST:PORT/DB (needs --bus)",
  },
  bus: {
    schema: z.string().refine((s) => s === "" || isRedisUrl(s)).default(""),
    expects: "a redis://HOST:PORT URL",
    placeholder: "<url>",
    help: "Redis URL redis://HOST:PORT carrying pushes between the nodes of a PostgreSQL --db (empty: none)",
  },
  busPrefix: {
    schema: z.string().regex(/^[\w:.-]{1,64}$/).default("rim:"),
    expects: "1 to 64 letters, digits or : _ . -",
    placeholder: "<text>",
    help: "start of this cluster's Redis keys and channel: clusters sharing one Redis each need their own, none the start of another",
  },
  busDeadlineMs: {
    schema: int(50, 600_000).default(2000),
    help: "ms a publish to the --bus (or a connection to it) may take before it counts as failed: writes go on, clients are told to resync",
  },
  files: { schema: z.string().default(""), help: "folder of uploaded files (default: files/ beside the --db file)" },
  sync: { schema: z.enum(["full", "normal"]).default("full"), help: "full: nothing is acked before it is fsynced (survives power loss); normal: survives process crashes only" },
  walRestartFrames: { schema: int(16, 1_000_000).default(4096), help: "WAL pages (4 KiB each) after which the checkpoint thread starts the WAL over: its size on disk" },
  tokenTtlDays: { schema: int(1, 3650).default(30), help: "days a login token stays valid" },
  bodyLimit: { schema: int(1024).default(1024 * 1024), help: "largest REST request body in bytes" },
  maxUpload: { schema: int(1).default(25 * 1024 * 1024), help: "largest uploaded file in bytes (413 above); apart from --body-limit" },
  uploadQuota: { schema: int(0).default(1024 * 1024 * 1024), help: "bytes of uploads a user may have stored (413 above; 0 = no limit)" },
  loginMaxPerAccount: { schema: int(1).default(10), help: "failed logins per account within the window before 429" },
  loginMaxPerIp: { schema: int(1).default(100), help: "failed logins per address within the window before 429" },
  loginWindowMinutes: { schema: int(1).default(15), help: "window of the login throttle in minutes" },
  registerMaxPerIp: { schema: int(0).default(10), help: "registrations per address within an hour before 429 (0 = no limit)" },
  argon2Concurrency: { schema: int(0, 1024).default(0), help: "argon2 hashes computed at once, logins first (0 = one per CPU core)" },
  argon2Memory: { schema: int(8, 4 * 1024 * 1024).default(65536), help: "argon2id memory cost in KiB" },
  argon2Time: { schema: int(1, 100).default(2), help: "argon2id time cost (iterations)" },
  legacyWsPort: { schema: int(0, 65535).default(0), help: "second WebSocket listener on any path, as rim's port 3012 (0 = off)" },
  wsMaxFrame: { schema: int(1024).default(64 * 1024), help: "largest WebSocket frame in bytes (1009 close above)" },
  maxContent: { schema: int(1).default(32 * 1024), help: "largest message content in bytes (413)" },
  wsRate: { schema: int(0).default(100), help: "frames per second a socket may send, sustained (0 = no limit)" },
  wsBurst: { schema: int(1).default(200), help: "frames a socket may send in a burst" },
  maxSocketsPerUser: { schema: int(0).default(32), help: "open logged-in sockets per user (0 = no cap)" },
  wsLoginTimeout: { schema: int(1).default(10), help: "seconds a socket may stay without Login" },
  wsIdleTimeout: { schema: int(0, 960).default(120), help: "seconds of silence before a socket is pinged and closed" },
  wsBackpressure: { schema: int(1024).default(1024 * 1024), help: "bytes buffered for a slow socket before it is closed" },
  syncPage: { schema: int(1, 10_000).default(500), help: "messages sent per Sync frame" },
  wsOrigins: { schema: z.string().default(""), help: "allowed WebSocket Origins, comma-separated, * for any (default: the server's own)" },
  corsOrigins: { schema: z.string().default(""), help: "origins allowed to call the REST API from a browser, comma-separated, * for any (default: none)" },
  trustProxy: {
    schema: z.string().refine(isAddressList).default("loopback"),
    placeholder: "<list>",
    expects: "a comma-separated list of IP addresses or ranges (10.0.0.0/8), loopback or none",
    help: "proxies whose X-Forwarded-For and X-Forwarded-Proto are believed: addresses, ranges, loopback or none (HSTS is sent only when such a proxy says https)",
  },
  registration: { schema: z.enum(["open", "invite", "closed"]).default("open"), help: "who may register: anyone, holders of an invite code, or nobody (operators still can)" },
  inviteTtlDays: { schema: int(1, 3650).default(7), help: "days an invite code stays valid" },
  metrics: { schema: z.enum(["off", "on"]).default("off"), help: "serve Prometheus metrics at /metrics" },
  metricsToken: { schema: z.string().default(""), help: "bearer token /metrics requires (empty: none)" },
  logFormat: { schema: z.enum(["text", "json"]).default("text"), help: "log line format" },
  logLevel: { schema: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"), help: "lowest level logged" },
} as const;

/** A PostgreSQL URL (postgres:// or postgresql://) rather than a SQLite file. */
export const isPostgresUrl = (db: string) => /^postgres(ql)?:\/\//i.test(db);

function isDatabaseLocation(db: string): boolean {
  if (isPostgresUrl(db)) {
    const url = URL.parse(db);
    return !!url && url.hostname !== "" && url.pathname.length > 1 && !url.pathname.slice(1).includes("/");
  }
  // Another scheme (mysql://, redis://…) is a mistake, not a file name.
  return !/^[a-z][a-z0-9+.-]*:\/\//i.test(db);
}

function isRedisUrl(s: string): boolean {
  const url = /^rediss?:\/\//i.test(s) ? URL.parse(s) : null;
  return !!url && url.hostname !== "" && (url.pathname === "" || url.pathname === "/" || /^\/\d+$/.test(url.pathname));
}

type Options = typeof OPTIONS;
export type Config = { [K in keyof Options]: z.output<Options[K]["schema"]> };

export const COMMANDS = ["serve", "migrate", "user", "invite", "backup", "restore", "stats", "help", "version"] as const;

// Flags that belong to one command only (e.g. `rim user create --account ann`).
const COMMAND_FLAGS: Partial<Record<string, readonly string[]>> = {
  user: ["--account", "--password", "--name", "--email", "--admin"],
};
// Command flags that take no value.
const SWITCHES = new Set(["--admin"]);
export type Command = (typeof COMMANDS)[number];

export const flagName = (key: string) => "--" + key.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
export const envName = (key: string) => "RIM_" + key.replace(/[A-Z]/g, (c) => "_" + c).toUpperCase();

export class ConfigError extends Error {}

/** Parses a command line and an environment; flags win over env, env over defaults. */
export type Parsed = { command: Command; config: Config; args: string[]; flags: Record<string, string> };

export function parseConfig(argv: string[], env: Record<string, string | undefined>): Parsed {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(OPTIONS)) {
    const v = env[envName(key)];
    if (v !== undefined && v !== "") raw[key] = v;
  }
  const byFlag = new Map(Object.keys(OPTIONS).map((k) => [flagName(k), k]));
  const positional: string[] = [];
  const flags: Record<string, string> = {};
  const fromFlag = new Set<string>();
  let command: Command | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--help" || arg === "-h") command = "help";
    else if (arg === "--version" || arg === "-v") command = command ?? "version";
    else if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq === -1 ? arg : arg.slice(0, eq);
      const key = byFlag.get(name);
      const own = COMMAND_FLAGS[positional[0] ?? ""]?.includes(name);
      if (!key && !own) throw new ConfigError(`unknown flag ${name}`);
      const value = SWITCHES.has(name) && eq === -1 ? "true" : eq === -1 ? argv[++i] : arg.slice(eq + 1);
      if (value === undefined) throw new ConfigError(`${name} needs a value`);
      if (key) {
        raw[key] = value;
        fromFlag.add(key);
      } else flags[name.slice(2)] = value;
    } else positional.push(arg);
  }
  if (!command) {
    const first = positional.shift() ?? "serve";
    if (!(COMMANDS as readonly string[]).includes(first)) throw new ConfigError(`unknown command ${first}`);
    command = first as Command;
  }
  const shape = Object.fromEntries(Object.entries(OPTIONS).map(([k, o]) => [k, o.schema]));
  const parsed = z.object(shape).safeParse(raw);
  if (!parsed.success) {
    // Named as it was given (the flag, or else its env variable), with what it must be: "--port must be an integer from 0 to 65535".
    const key = String(parsed.error.issues[0]!.path[0]);
    throw new ConfigError(`${fromFlag.has(key) ? flagName(key) : envName(key)} must be ${expected(key as keyof Options)}`);
  }
  const config = parsed.data as Config;
  // Named as given: its variable when it came from the environment, else its flag.
  const named = (key: keyof Options) => (!fromFlag.has(key) && env[envName(key)] ? envName(key) : flagName(key));
  const postgres = isPostgresUrl(config.db);
  if (config.bus && !postgres) throw new ConfigError(`${named("bus")} needs a PostgreSQL ${named("db")}: a SQLite file is served by one node, which has no other node to talk to`);
  // Migrating and the operator commands need no bus; a serving node without one would miss the other nodes' pushes.
  if (command === "serve" && postgres && !config.bus) throw new ConfigError(`a PostgreSQL ${named("db")} needs --bus redis://HOST:PORT (or RIM_BUS): without a bus, nodes would silently miss each other's pushes`);
  // A password for `rim user` may come from the environment, to keep it out of `ps`.
  if (command === "user" && flags.password === undefined && env.RIM_PASSWORD) flags.password = env.RIM_PASSWORD;
  return { command, config, args: positional, flags };
}

/** Defaults, overridable; for tests and tools that build an App without a command line. */
export function defaultConfig(overrides: Partial<Config> = {}): Config {
  return { ...parseConfig([], {}).config, ...overrides };
}

type Kind = { kind: "int"; min: number; max: number } | { kind: "enum"; values: string[] } | { kind: "text"; nonEmpty: boolean };

/** What an option's schema accepts, read from the schema itself so help and errors cannot drift from it. */
export function kindOf(key: keyof Options): Kind {
  // zod's internals: default → inner schema; int() is a pipe into a number with bounds.
  let s = OPTIONS[key].schema as unknown as { def: { type: string; innerType?: unknown; out?: { minValue: number; maxValue: number } }; options?: string[]; minLength?: number | null };
  if (s.def.type === "default") s = s.def.innerType as typeof s;
  if (s.def.type === "pipe") return { kind: "int", min: s.def.out!.minValue, max: s.def.out!.maxValue };
  if (s.def.type === "enum") return { kind: "enum", values: s.options! };
  return { kind: "text", nonEmpty: (s.minLength ?? 0) > 0 };
}

/** The value placeholder of --help: <full|normal>, <0-65535>, <1024-…>, <text>. */
function placeholder(key: keyof Options): string {
  const o = OPTIONS[key];
  if ("placeholder" in o) return o.placeholder as string;
  const k = kindOf(key);
  if (k.kind === "enum") return `<${k.values.join("|")}>`;
  if (k.kind === "int") return `<${k.min}-${k.max === Number.MAX_SAFE_INTEGER ? "…" : k.max}>`;
  return "<text>";
}

/** "an integer from 0 to 65535", "one of full, normal"… for the error of a bad value. */
export function expected(key: keyof Options): string {
  const o = OPTIONS[key];
  if ("expects" in o) return o.expects;
  const k = kindOf(key);
  if (k.kind === "enum") return `one of ${k.values.join(", ")}`;
  if (k.kind === "int") return k.max === Number.MAX_SAFE_INTEGER ? `an integer of at least ${k.min}` : `an integer from ${k.min} to ${k.max}`;
  return k.nonEmpty ? "a non-empty text" : "a text";
}

export function helpText(version: string): string {
  const keys = Object.keys(OPTIONS) as (keyof Options)[];
  const flagCol = Math.max(...keys.map((k) => flagName(k).length + placeholder(k).length + 1));
  const envCol = Math.max(...keys.map((k) => envName(k).length));
  const rows = keys.map((k) => {
    const def = (OPTIONS[k].schema as z.ZodType).safeParse(undefined);
    const shown = def.success ? JSON.stringify(def.data) : "";
    return `  ${`${flagName(k)} ${placeholder(k)}`.padEnd(flagCol)}  ${envName(k).padEnd(envCol)}  ${OPTIONS[k].help} [default ${shown}]`;
  });
  return [
    `rim ${version}: a self-hosted team chat server`,
    "",
    "usage: rim [command] [flags]",
    "  serve                        run the server (default)",
    "  migrate                      apply database migrations and exit (SQLite or PostgreSQL)",
    "  user                         list the user commands:",
    "  user create --account A --password P [--name N] [--email E]",
    "  user reset-password --account A --password P   (revokes the user's tokens)",
    "  user disable --account A     (revokes tokens; logins refused)",
    "  user enable --account A",
    "  (user, invite, backup and stats need an existing --db: run serve or migrate first)",
    "  invite                       print a single-use invite code",
    "  backup FILE                  consistent copy of the database and its files, also while serving",
    "  restore FILE                 replace the database with FILE and put its files back, creating its folder (refused while serving)",
    "  stats                        counts of users, groups, messages, sessions",
    "  (on PostgreSQL: serve needs --bus; backup and restore are pg_dump's and pg_restore's)",
    "  (RIM_PASSWORD may replace --password)",
    "  --help     this text;  --version  the version",
    "",
    "flags (each also from its environment variable):",
    ...rows,
  ].join("\n");
}

/** Reads the real process command line and environment. */
export function readProcessConfig() {
  return parseConfig(process.argv.slice(2), process.env);
}

