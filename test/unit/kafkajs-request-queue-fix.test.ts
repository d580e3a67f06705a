import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "../..");
const NODE_MAJOR = Number(process.versions.node.split(".")[0]);

interface FixtureResult {
  idleChecks: number;
  sentAfterMs: number;
  warnings: string[];
}

/** test/fixtures/kafkajs-request-queue.ts in a process of its own (its warnings and patch stay there). */
async function runFixture(args: string[] = []): Promise<FixtureResult> {
  const { stdout } = await run(process.execPath, ["--import", "tsx", "test/fixtures/kafkajs-request-queue.ts", ...args], {
    cwd: ROOT,
    timeout: 20_000,
  });
  return JSON.parse(stdout) as FixtureResult;
}

describe("KafkaJS's request queue after a response (kafkajs-request-queue-fix)", () => {
  it("arms no check while idle, still sends a throttled request when the throttle ends, and warns of nothing", async () => {
    const result = await runFixture();
    // The one check is the response's own.
    expect(result.idleChecks).toBe(1);
    expect(result.sentAfterMs).toBeGreaterThanOrEqual(45);
    expect(result.sentAfterMs).toBeLessThan(1_000);
    expect(result.warnings).toEqual([]);
  }, 30_000);

  it("without the fix, an idle queue checks itself every millisecond (and Node 24 warns of a negative timeout)", async () => {
    const result = await runFixture(["unfixed"]);
    expect(result.idleChecks).toBeGreaterThan(20);
    expect(result.warnings.some((warning) => warning.startsWith("TimeoutNegativeWarning"))).toBe(NODE_MAJOR >= 24);
  }, 30_000);
});
