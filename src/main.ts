#!/usr/bin/env bun
// The command line: serve (default), migrate, --help, --version.
import pkg from "../package.json";
import { closeApp, createApp } from "./app";
import { ConfigError, helpText, readProcessConfig } from "./config";
import { openDatabase, closeDatabase } from "./db/open";
import { migrate } from "./db/migrate";
import { startServer } from "./server";

function main(): number | undefined {
  let parsed;
  try {
    parsed = readProcessConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`rim: ${err.message}\nTry 'rim --help'.`);
    return 2;
  }
  const { command, config } = parsed;
  switch (command) {
    case "help":
      console.log(helpText(pkg.version));
      return 0;
    case "version":
      console.log(pkg.version);
      return 0;
    case "migrate": {
      const db = openDatabase(config.db, { sync: config.sync });
      const applied = migrate(db.$client);
      closeDatabase(db);
      console.log(applied.length ? `applied ${applied.join(", ")}` : "database is up to date");
      return 0;
    }
    case "serve": {
      const app = createApp(config);
      const running = startServer(app);
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        app.log.info("server.stopping", { signal });
        await running.stop();
        closeApp(app);
        process.exit(0);
      };
      process.on("SIGTERM", () => void stop("SIGTERM"));
      process.on("SIGINT", () => void stop("SIGINT"));
      return undefined;
    }
  }
}

const code = main();
if (code !== undefined) process.exit(code);
