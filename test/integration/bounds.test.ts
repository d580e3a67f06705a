import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const run = promisify(execFile);

describe("database time limits", () => {
  it("cancels a statement that runs past DATABASE_STATEMENT_TIMEOUT_MS instead of waiting for it", async () => {
    // A process of its own, so the limit applies from the pool's creation as in a Lambda container.
    const script = `
      import { getPool, closeDb } from "./lib/db/client.ts";
      const started = performance.now();
      try { await getPool().query("select pg_sleep(5)"); console.log("finished"); }
      catch (error) { console.log(JSON.stringify({ code: error.code, ms: Math.round(performance.now() - started) })); }
      await closeDb();`;
    const { stdout } = await run(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_STATEMENT_TIMEOUT_MS: "300", LOG_LEVEL: "silent" },
    });
    const result = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}");
    // 57014: query_canceled (statement_timeout).
    expect(result.code).toBe("57014");
    expect(result.ms).toBeLessThan(3_000);
  }, 30_000);
});
