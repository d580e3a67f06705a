import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SimulateReport } from "../../scripts/simulate/run.js";
import type { VerifyReport } from "../../scripts/simulate/verify.js";
import { uniqueName } from "../support/kafka.js";
import { type OfflineServer, startOffline } from "../support/offline.js";
import { csvLines, differences, storedRows } from "../support/paysim-exact.js";
import { PAYSIM_SAMPLE } from "../support/sample.js";

/**
 * The whole pipeline on the real sample: `serverless offline start` (API + the local Kafka trigger
 * running handlers/consume) over the real broker and database, driven by `npm run simulate --verify`.
 */
const SAMPLE = PAYSIM_SAMPLE;
const REPO = resolve(import.meta.dirname, "../..");
let server: OfflineServer;
let pool: pg.Pool;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  const topics = { TRANSACTIONS_TOPIC: uniqueName("test.simulate"), CONSUMER_GROUP_ID: uniqueName("test.simulate") };
  env = { ...process.env, ...topics, LOG_LEVEL: "warn" };
  server = await startOffline({ env: topics });
  pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
}, 180_000);

afterAll(async () => {
  await pool?.end();
  await server?.stop();
}, 60_000);

describe("npm run simulate --verify (real PaySim sample, full stack)", () => {
  it("stores all 41,371 rows exactly once with the CSV's exact values", async () => {
    const { stdout } = await promisify(execFile)(
      "npx",
      [
        "tsx",
        "scripts/simulate.ts",
        "--url",
        server.baseUrl,
        "--api-key",
        server.apiKey,
        "--file",
        SAMPLE,
        "--bulk",
        "500",
        "--concurrency",
        "4",
        "--verify",
        "--json",
      ],
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
