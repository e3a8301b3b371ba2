// The logger gathers stderr lines and writes them together (src/log.ts): none
// may be lost or reordered, whether the process exits by itself, by
// process.exit, or goes on running.
import { expect, test } from "bun:test";
import { join } from "node:path";

const LOG = join(import.meta.dir, "../src/log.ts");

async function run(tail: string): Promise<string[]> {
  const script = `
    import { createLogger } from ${JSON.stringify(LOG)};
    const log = createLogger({ level: "info", format: "json" });
    for (let i = 1; i <= 3; i++) log.info("line", { i });
    log.warn("warned", { i: 4 });
    log.info("line", { i: 5 });
    log.debug("hidden", { i: 0 });
    ${tail}
  `;
  const p = Bun.spawn(["bun", "-e", script], { stderr: "pipe", stdout: "ignore" });
  const err = await new Response(p.stderr).text();
  await p.exited;
  return err.trim().split("\n").map((l) => `${JSON.parse(l).event}:${JSON.parse(l).i}`);
}

const ALL = ["line:1", "line:2", "line:3", "warned:4", "line:5"];

test("every line is written, in order, when the process ends by itself", async () => {
  expect(await run("")).toEqual(ALL);
});

test("… when it calls process.exit", async () => {
  expect(await run("process.exit(2);")).toEqual(ALL);
});

test("… and while it goes on running: the process waits for its stdin to close, which the test does only once it has read every line", async () => {
  const script = `
    import { createLogger } from ${JSON.stringify(LOG)};
    const log = createLogger({ level: "info", format: "json" });
    for (let i = 1; i <= 3; i++) log.info("line", { i });
    setImmediate(() => log.info("line", { i: 4 }));
    await new Response(Bun.stdin.stream()).text();
  `;
  const p = Bun.spawn(["bun", "-e", script], { stderr: "pipe", stdout: "ignore", stdin: "pipe" });
  const reader = p.stderr.getReader();
  let text = "";
  while (text.split("\n").length <= 4) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  p.stdin.end();
  await p.exited;
  expect(text.trim().split("\n").map((l) => JSON.parse(l).i)).toEqual([1, 2, 3, 4]);
});
