import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { resolve } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SimulateReport } from "../../lib/simulate/run.js";
import type { VerifyReport } from "../../lib/simulate/verify.js";
import { freePort } from "../../scripts/infra/postgres.js";
import { uniqueName } from "../support/kafka.js";
import { csvLines, differences, storedRows } from "../support/paysim-exact.js";

/**
 * The whole pipeline on the real sample: `serverless offline start` (API + the local Kafka trigger
 * running handlers/consume) over the real broker and database, driven by `npm run simulate --verify`.
 */
const SAMPLE = "/work/shared/data/paysim-sample.csv";
const REPO = resolve(import.meta.dirname, "../..");
const databaseUrl = process.env.DATABASE_URL as string;
let offline: ChildProcess;
let url: string;
let pool: pg.Pool;
let env: NodeJS.ProcessEnv;

async function waitForHttp(target: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (offline.exitCode !== null) throw new Error(`serverless offline exited with ${offline.exitCode}`);
    try {
      await fetch(`${target}/reports/summary`);
      return;
    } catch {
      await new Promise((done) => setTimeout(done, 500));
    }
  }
  throw new Error(`${target} did not answer within ${timeoutMs} ms`);
}

beforeAll(async () => {
  const httpPort = await freePort();
  env = {
    ...process.env,
    HTTP_PORT: String(httpPort),
    LAMBDA_PORT: String(await freePort()),
    WEBSOCKET_PORT: String(await freePort()),
    TRANSACTIONS_TOPIC: uniqueName("test.simulate"),
    CONSUMER_GROUP_ID: uniqueName("test.simulate"),
    ESBUILD_WORK_FOLDER: `.esbuild-${randomUUID().slice(0, 8)}`,
    LOG_LEVEL: "warn",
  };
  url = `http://127.0.0.1:${httpPort}`;
  offline = spawn("npx", ["serverless", "offline", "start"], { cwd: REPO, env, stdio: "ignore", detached: true });
  await waitForHttp(url, 120_000);
  pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
}, 180_000);

afterAll(async () => {
  await pool?.end();
  if (offline?.pid && offline.exitCode === null) {
    process.kill(-offline.pid, "SIGTERM");
    await new Promise((done) => offline.once("exit", done));
  }
  rmSync(resolve(REPO, env.ESBUILD_WORK_FOLDER as string), { recursive: true, force: true });
}, 60_000);

describe("npm run simulate --verify (real PaySim sample, full stack)", () => {
  it("stores all 41,371 rows exactly once with the CSV's exact values", async () => {
    const { stdout } = await promisify(execFile)(
      "npx",
      ["tsx", "scripts/simulate.ts", "--url", url, "--file", SAMPLE, "--bulk", "500", "--concurrency", "4", "--verify", "--json"],
      { cwd: REPO, env, maxBuffer: 16 * 1024 * 1024 },
    );
    const { report, verify } = JSON.parse(stdout.trim().split("\n").at(-1) as string) as {
      report: SimulateReport;
      verify: VerifyReport;
    };
    expect(report).toMatchObject({ sent: 41_371, accepted: 41_371, requests: 83, rejected: {} });
    expect(verify).toMatchObject({ accepted: 41_371, stored: 41_371, lost: 0, duplicated: 0 });
    expect(verify.endToEndMs.count).toBe(41_371);

    // Every CSV row, found by its nameOrig (unique in the sample) among this run's rows, equals the file exactly.
    const stored = await storedRows(pool, "received_at between $1 and $2", [report.startedAt, report.endedAt]);
    const byName = new Map(stored.map((row) => [row.name_orig, row]));
    expect(stored).toHaveLength(41_371);
    const problems: string[] = [];
    for await (const { line, fields } of csvLines(SAMPLE)) {
      const row = byName.get(fields[3] as string);
      if (!row) problems.push(`line ${line}: not stored`);
      else {
        problems.push(...differences(fields, row).map((difference) => `line ${line}: ${difference}`));
        if (row.status !== "Completed") problems.push(`line ${line}: status ${row.status}`);
      }
    }
    expect(problems.slice(0, 10)).toEqual([]);
  }, 300_000);
});
