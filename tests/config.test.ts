// parseConfig(argv, env): defaults, env over defaults, flags over env, and a
// ConfigError naming the flag and variable for every bad input.
import { describe, expect, test } from "bun:test";
import { ConfigError, defaultConfig, envName, flagName, parseConfig, type Config } from "../src/config";

type Env = Record<string, string>;

describe("defaults", () => {
  test("no flags, no env: serve with the documented defaults", () => {
    const { command, config, args } = parseConfig([], {});
    expect(command).toBe("serve");
    expect(args).toEqual([]);
    expect(config).toMatchObject({
      host: "0.0.0.0",
      port: 8000,
      db: "./data/rim.db",
      sync: "full",
      tokenTtlDays: 30,
      bodyLimit: 1024 * 1024,
      loginMaxPerAccount: 10,
      loginMaxPerIp: 100,
      loginWindowMinutes: 15,
      logLevel: "info",
    });
  });

  test("unrelated environment variables are ignored", () => {
    expect(parseConfig([], { PORT: "1", RIM_NOT_AN_OPTION: "x", HOME: "/root" }).config).toEqual(parseConfig([], {}).config);
  });

  test("defaultConfig applies overrides on top of the defaults", () => {
    expect(defaultConfig({ port: 1234 })).toEqual({ ...parseConfig([], {}).config, port: 1234 });
  });
});

describe("names", () => {
  test.each([
    ["port", "--port", "RIM_PORT"],
    ["db", "--db", "RIM_DB"],
    ["tokenTtlDays", "--token-ttl-days", "RIM_TOKEN_TTL_DAYS"],
    ["loginMaxPerIp", "--login-max-per-ip", "RIM_LOGIN_MAX_PER_IP"],
  ])("%s is %s and %s", (key, flag, env) => {
    expect(flagName(key)).toBe(flag);
    expect(envName(key)).toBe(env);
  });

  const defaults = parseConfig([], {}).config;
  test.each(Object.keys(defaults))("option %s can be set by its flag and by its env variable", (key) => {
    const value = String(defaults[key as keyof Config]);
    expect(parseConfig([`${flagName(key)}=${value}`], {}).config).toEqual(defaults);
    if (value !== "") expect(parseConfig([], { [envName(key)]: value }).config).toEqual(defaults);
  });
});

describe("flags and env", () => {
  test.each<[string, string[], Env, Partial<Config>]>([
    ["--port N", ["--port", "9000"], {}, { port: 9000 }],
    ["--port=N", ["--port=9001"], {}, { port: 9001 }],
    ["--port 0 (a free port)", ["--port", "0"], {}, { port: 0 }],
    ["RIM_PORT", [], { RIM_PORT: "9002" }, { port: 9002 }],
    ["the flag beats RIM_PORT", ["--port", "9003"], { RIM_PORT: "9002" }, { port: 9003 }],
    ["a good flag beats a bad env value", ["--port", "9004"], { RIM_PORT: "not-a-port" }, { port: 9004 }],
    ["an empty env value means unset", [], { RIM_PORT: "" }, { port: 8000 }],
    ["RIM_DB", [], { RIM_DB: "/tmp/x.db" }, { db: "/tmp/x.db" }],
    ["--db beats RIM_DB", ["--db", "a.db"], { RIM_DB: "b.db" }, { db: "a.db" }],
    ["RIM_HOST", [], { RIM_HOST: "127.0.0.1" }, { host: "127.0.0.1" }],
    ["--host", ["--host", "::1"], {}, { host: "::1" }],
    ["RIM_TOKEN_TTL_DAYS", [], { RIM_TOKEN_TTL_DAYS: "7" }, { tokenTtlDays: 7 }],
    ["--token-ttl-days", ["--token-ttl-days", "1"], { RIM_TOKEN_TTL_DAYS: "7" }, { tokenTtlDays: 1 }],
    ["RIM_BODY_LIMIT", [], { RIM_BODY_LIMIT: "2048" }, { bodyLimit: 2048 }],
    ["login throttle knobs", ["--login-max-per-ip", "7"], { RIM_LOGIN_MAX_PER_ACCOUNT: "3", RIM_LOGIN_WINDOW_MINUTES: "1" }, { loginMaxPerAccount: 3, loginMaxPerIp: 7, loginWindowMinutes: 1 }],
    ["--sync normal", ["--sync", "normal"], {}, { sync: "normal" }],
    ["the last of a repeated flag wins", ["--port", "1", "--port", "2"], {}, { port: 2 }],
    ["no bus by default", [], {}, { bus: "" }],
    ["--db postgres:// with --bus", ["--db", "postgres://rim@db:5432/rim", "--bus", "redis://cache:6379"], {}, { db: "postgres://rim@db:5432/rim", bus: "redis://cache:6379" }],
    ["postgresql://, a password, no port, and RIM_BUS", [], { RIM_DB: "postgresql://rim:s3cret@db/rim", RIM_BUS: "redis://cache" }, { db: "postgresql://rim:s3cret@db/rim", bus: "redis://cache" }],
    ["rediss:// and a Redis database number", ["--db", "postgres://rim@db/rim", "--bus", "rediss://cache:6380/2"], {}, { bus: "rediss://cache:6380/2" }],
    ["a SQLite file path with a colon", ["--db", "./data/a:b.db"], {}, { db: "./data/a:b.db" }],
    ["the bus prefix rim: by default", [], {}, { busPrefix: "rim:" }],
    ["--bus-prefix", ["--db", "postgres://rim@db/rim", "--bus", "redis://cache", "--bus-prefix", "chat:prod:"], {}, { busPrefix: "chat:prod:" }],
    ["RIM_BUS_PREFIX", [], { RIM_BUS_PREFIX: "staging_2.rim-" }, { busPrefix: "staging_2.rim-" }],
    ["--bus-prefix beats RIM_BUS_PREFIX", ["--bus-prefix", "a:"], { RIM_BUS_PREFIX: "b:" }, { busPrefix: "a:" }],
    ["a bus prefix of 64 characters", ["--bus-prefix", "p".repeat(64)], {}, { busPrefix: "p".repeat(64) }],
    ["the bus deadline 2 s by default", [], {}, { busDeadlineMs: 2000 }],
    ["--bus-deadline-ms", ["--bus-deadline-ms", "30000"], {}, { busDeadlineMs: 30000 }],
    ["RIM_BUS_DEADLINE_MS", [], { RIM_BUS_DEADLINE_MS: "250" }, { busDeadlineMs: 250 }],
  ])("%s", (_label, argv, env, want) => {
    expect(parseConfig(argv, env).config).toMatchObject(want);
  });
});

describe("commands", () => {
  test.each<[string[], string, Partial<Config>]>([
    [["serve", "--port", "1"], "serve", { port: 1 }],
    [["--port", "1", "serve"], "serve", { port: 1 }],
    [["migrate", "--db", "m.db"], "migrate", { db: "m.db" }],
    // Migrating (and the operator commands) need no bus: only a serving node talks to the others.
    [["migrate", "--db", "postgres://rim@db:5432/rim"], "migrate", { db: "postgres://rim@db:5432/rim", bus: "" }],
    [["stats", "--db", "postgres://rim@db:5432/rim"], "stats", { bus: "" }],
    [["--help"], "help", {}],
    [["-h"], "help", {}],
    [["serve", "--help"], "help", {}],
    [["--version"], "version", {}],
    [["-v"], "version", {}],
    [["--version", "--help"], "help", {}],
  ])("%p → %s", (argv, command, want) => {
    const parsed = parseConfig(argv, {});
    expect(parsed.command).toBe(command as any);
    expect(parsed.config).toMatchObject(want);
  });
});

describe("bad input is a ConfigError naming the flag (or the variable it came from) and what it must be", () => {
  test.each<[string, string[], Env, string]>([
    ["--port abc", ["--port", "abc"], {}, "--port must be an integer from 0 to 65535"],
    ["--port 70000", ["--port", "70000"], {}, "--port must be an integer from 0 to 65535"],
    ["--port -1", ["--port=-1"], {}, "--port must be an integer from 0 to 65535"],
    ["--port 1.5", ["--port", "1.5"], {}, "--port must be an integer from 0 to 65535"],
    ["--port with an empty value", ["--port="], {}, "--port must be an integer from 0 to 65535"],
    ["--port of spaces", ["--port", "  "], {}, "--port must be an integer from 0 to 65535"],
    ["RIM_PORT=abc", [], { RIM_PORT: "abc" }, "RIM_PORT must be an integer from 0 to 65535"],
    ["a bad --port beside a good RIM_PORT", ["--port", "x"], { RIM_PORT: "80" }, "--port must be an integer from 0 to 65535"],
    ["RIM_TOKEN_TTL_DAYS=0", [], { RIM_TOKEN_TTL_DAYS: "0" }, "RIM_TOKEN_TTL_DAYS must be an integer from 1 to 3650"],
    ["--token-ttl-days 3651", ["--token-ttl-days", "3651"], {}, "--token-ttl-days must be an integer from 1 to 3650"],
    ["--body-limit below 1024", ["--body-limit", "100"], {}, "--body-limit must be an integer of at least 1024"],
    ["--login-max-per-account 0", ["--login-max-per-account", "0"], {}, "--login-max-per-account must be an integer of at least 1"],
    ["--sync sometimes", ["--sync", "sometimes"], {}, "--sync must be one of full, normal"],
    ["RIM_LOG_LEVEL=loud", [], { RIM_LOG_LEVEL: "loud" }, "RIM_LOG_LEVEL must be one of debug, info, warn, error, silent"],
    ["--registration in the wrong case", ["--registration", "Open"], {}, "--registration must be one of open, invite, closed"],
    ["--db with an empty value", ["--db="], {}, "--db must be a SQLite file or a postgres://USER@HOST:PORT/DB URL"],
    ["--db of another engine's URL", ["--db", "mysql://rim@db:3306/rim"], {}, "--db must be a SQLite file or a postgres://USER@HOST:PORT/DB URL"],
    ["--db postgres URL without a database", ["migrate", "--db", "postgres://rim@db:5432"], {}, "--db must be a SQLite file or a postgres://USER@HOST:PORT/DB URL"],
    ["--db postgres URL without a host", ["migrate", "--db", "postgres:///rim"], {}, "--db must be a SQLite file or a postgres://USER@HOST:PORT/DB URL"],
    ["RIM_DB postgres URL with a bad port", ["migrate"], { RIM_DB: "postgres://rim@db:port/rim" }, "RIM_DB must be a SQLite file or a postgres://USER@HOST:PORT/DB URL"],
    ["--bus of another scheme", ["--bus", "http://cache:6379"], {}, "--bus must be a redis://HOST:PORT URL"],
    ["--bus without a host", ["--bus", "redis://"], {}, "--bus must be a redis://HOST:PORT URL"],
    ["--bus with a bad port", ["--bus", "redis://cache:abc"], {}, "--bus must be a redis://HOST:PORT URL"],
    ["RIM_BUS with a path", [], { RIM_BUS: "redis://cache:6379/x/y" }, "RIM_BUS must be a redis://HOST:PORT URL"],
    [
      "serving a PostgreSQL database without a bus",
      ["serve", "--db", "postgres://rim@db:5432/rim"],
      {},
      "a PostgreSQL --db needs --bus redis://HOST:PORT (or RIM_BUS): without a bus, nodes would silently miss each other's pushes",
    ],
    [
      "serving (the default command) RIM_DB on PostgreSQL without a bus",
      [],
      { RIM_DB: "postgresql://rim@db/rim" },
      "a PostgreSQL RIM_DB needs --bus redis://HOST:PORT (or RIM_BUS): without a bus, nodes would silently miss each other's pushes",
    ],
    ["a bus with the default SQLite file", ["serve", "--bus", "redis://cache:6379"], {}, "--bus needs a PostgreSQL --db: a SQLite file is served by one node, which has no other node to talk to"],
    ["RIM_BUS with --db FILE, for any command", ["migrate", "--db", "a.db"], { RIM_BUS: "redis://cache:6379" }, "RIM_BUS needs a PostgreSQL --db: a SQLite file is served by one node, which has no other node to talk to"],
    ["--bus-prefix with an empty value", ["--bus-prefix="], {}, "--bus-prefix must be 1 to 64 letters, digits or : _ . -"],
    ["--bus-deadline-ms 0", ["--bus-deadline-ms", "0"], {}, "--bus-deadline-ms must be an integer from 50 to 600000"],
    ["--bus-deadline-ms 2s", ["--bus-deadline-ms", "2s"], {}, "--bus-deadline-ms must be an integer from 50 to 600000"],
    ["--bus-prefix with a space", ["--bus-prefix", "rim prod:"], {}, "--bus-prefix must be 1 to 64 letters, digits or : _ . -"],
    ["--bus-prefix with a Redis glob", ["--bus-prefix", "rim:*"], {}, "--bus-prefix must be 1 to 64 letters, digits or : _ . -"],
    ["RIM_BUS_PREFIX of 65 characters", [], { RIM_BUS_PREFIX: "p".repeat(65) }, "RIM_BUS_PREFIX must be 1 to 64 letters, digits or : _ . -"],
    ["RIM_BUS_PREFIX beyond ASCII", [], { RIM_BUS_PREFIX: "rím:" }, "RIM_BUS_PREFIX must be 1 to 64 letters, digits or : _ . -"],
    ["--host with an empty value", ["--host="], {}, "--host must be a non-empty text"],
    ["an unknown flag", ["--nope"], {}, "unknown flag --nope"],
    ["an unknown flag with a value", ["--nope=1"], {}, "unknown flag --nope"],
    ["a flag in the wrong case", ["--PORT", "1"], {}, "unknown flag --PORT"],
    ["a camelCase flag", ["--tokenTtlDays", "1"], {}, "unknown flag --tokenTtlDays"],
    ["a flag without its value", ["--port"], {}, "--port needs a value"],
    ["an unknown command", ["launch"], {}, "unknown command launch"],
  ])("%s", (_label, argv, env, message) => {
    let err: unknown;
    try {
      parseConfig(argv, env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe(message);
  });
});
