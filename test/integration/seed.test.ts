import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { drizzle } from "drizzle-orm/node-postgres";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrateDatabase } from "../../lib/db/client.js";
import * as schema from "../../lib/db/schema.js";
import { dropDatabase, ensureDatabase, withDatabase } from "../../scripts/infra/index.js";
import { PaysimFileError } from "../../scripts/paysim/csv.js";
import { seedIdOf, seedTransactions } from "../../scripts/seed/historical.js";
import { closePool } from "../support/database.js";
import { csvLines, differences, storedRows } from "../support/paysim-exact.js";
import { PAYSIM_SAMPLE } from "../support/sample.js";

const SAMPLE = PAYSIM_SAMPLE;
const GENERATED = resolve(import.meta.dirname, "../../paysim.csv");
const REPO = resolve(import.meta.dirname, "../..");

// A database of this file's own: seeded ids are deterministic, so sharing txlog_test with other files would interfere.
const databaseName = `txlog_seed_${randomUUID().slice(0, 8)}`;
const databaseUrl = withDatabase(process.env.DATABASE_URL as string, databaseName);
let pool: pg.Pool;
let db: ReturnType<typeof drizzle<typeof schema>>;
let workDir: string;

const count = async () => Number((await pool.query<{ n: string }>("select count(*) as n from transactions")).rows[0]?.n);

/** Every CSV row (up to `limit`) is stored under its seed id with exactly the CSV's values. */
async function expectStoredExactly(file: string, limit?: number): Promise<number> {
  const byId = new Map((await storedRows(pool)).map((row) => [row.id, row]));
  let compared = 0;
  const problems: string[] = [];
  for await (const { line, raw, fields } of csvLines(file, limit)) {
    const stored = byId.get(seedIdOf({ line, raw }));
    if (!stored) problems.push(`line ${line}: not stored`);
    else problems.push(...differences(fields, stored).map((difference) => `line ${line}: ${difference}`));
    if (stored && stored.status !== "Historical") problems.push(`line ${line}: status ${stored.status}`);
    compared++;
  }
  expect(problems.slice(0, 10)).toEqual([]);
  return compared;
}

beforeAll(async () => {
  await ensureDatabase(databaseUrl);
  await migrateDatabase(databaseUrl);
  pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  db = drizzle(pool, { schema });
  workDir = mkdtempSync(join(tmpdir(), "seed-test-"));
});

afterAll(async () => {
  await closePool(pool);
  await dropDatabase(databaseUrl);
  rmSync(workDir, { recursive: true, force: true });
});

describe("seed (real PaySim sample)", () => {
  it("stores the first 100 rows by default, as Historical, with the CSV's exact values", async () => {
    const summary = await seedTransactions({ file: SAMPLE, rows: 100, db });
    expect(summary).toMatchObject({ read: 100, inserted: 100, skipped: 0 });
    expect(await count()).toBe(100);
    expect(await expectStoredExactly(SAMPLE, 100)).toBe(100);
  });

  it("stores all 41,371 rows with amounts and balances equal to the CSV's as exact decimals (E-notation included)", async () => {
    const summary = await seedTransactions({ file: SAMPLE, rows: 1_000_000, db });
    expect(summary).toMatchObject({ read: 41_371, inserted: 41_271, skipped: 100 });
    expect(await count()).toBe(41_371);
    expect(await expectStoredExactly(SAMPLE)).toBe(41_371);
    // The values written in E-notation in the file, read back from NUMERIC.
    const { rows } = await pool.query<{ amount: string }>(
      "select amount::text from transactions where amount >= 10000000 order by amount",
    );
    expect(rows.map((row) => row.amount)).toEqual(["10000000.00", "10000000.00"]);
    const big = await pool.query<{ n: string }>("select count(*) as n from transactions where new_balance_dest = 19169204.93");
    expect(Number(big.rows[0]?.n)).toBeGreaterThan(0);
  });

  it("inserts nothing when run again", async () => {
    const summary = await seedTransactions({ file: SAMPLE, rows: 1_000_000, db });
    expect(summary).toMatchObject({ read: 41_371, inserted: 0, skipped: 41_371 });
    expect(await count()).toBe(41_371);
  });
});

describe("seed (generated paysim.csv)", () => {
  it("stores every generated row with the file's exact values", async () => {
    await pool.query("truncate transactions");
    const summary = await seedTransactions({ file: GENERATED, rows: 1_000_000, db });
    expect(summary).toMatchObject({ read: 10_000, inserted: 10_000, skipped: 0 });
    expect(await expectStoredExactly(GENERATED)).toBe(10_000);
  });
});

describe("seed (bad files)", () => {
  const sampleLines = readFileSync(SAMPLE, "utf8").split("\n");

  it("rejects a malformed row naming file, line and reason, and writes nothing of its batch", async () => {
    await pool.query("truncate transactions");
    const file = join(workDir, "bad-amount.csv");
    const lines = sampleLines.slice(0, 2_502); // header + 2,501 rows
    lines.push("8,PAYMENT,12.345,C1,100.0,87.65,M2,0.0,0.0,0,0"); // line 2,503: 3 decimals
    lines.push(...sampleLines.slice(2_502, 2_600));
    writeFileSync(file, `${lines.join("\n")}\n`);

    const failure = await seedTransactions({ file, rows: 1_000_000, batchSize: 1_000, db }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(PaysimFileError);
    expect((failure as PaysimFileError).message).toBe(`${file}:2503: amount: at most 2 decimal places (got 12.345)`);
    // Batches 1 and 2 (lines 2-2001) were complete and committed; batch 3 (lines 2002-2503) was not written at all.
    expect(await count()).toBe(2_000);
    const bad = await pool.query("select 1 from transactions where id = any($1)", [
      lines.slice(2_001, 2_502).map((raw, index) => seedIdOf({ line: 2_002 + index, raw })),
    ]);
    expect(bad.rowCount).toBe(0);
  });

  it.each([
    [
      "a row with 10 fields",
      "1,PAYMENT,9839.64,C1231006815,170136.0,160296.36,M1979787155,0.0,0.0,0",
      ":3: expected 11 fields, got 10",
    ],
    ["a bad type", "1,REFUND,9839.64,C1231006815,170136.0,160296.36,M1979787155,0.0,0.0,0,0", ":3: type: Invalid option"],
    [
      "a non-numeric balance",
      "1,PAYMENT,9839.64,C1231006815,abc,160296.36,M1979787155,0.0,0.0,0,0",
      ":3: oldbalanceOrg: not a decimal number",
    ],
    ["an unclosed quote", '1,PAYMENT,"9839.64,C1231006815,170136.0,160296.36,M1979787155,0.0,0.0,0,0', ":3: Quote Not Closed"],
  ])("names the line and reason for %s", async (_name, badLine, expected) => {
    const file = join(workDir, `bad-${randomUUID().slice(0, 6)}.csv`);
    writeFileSync(file, `${sampleLines.slice(0, 2).join("\n")}\n${badLine}\n`);
    const failure = await seedTransactions({ file, rows: 100, db }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(PaysimFileError);
    expect((failure as Error).message).toContain(`${file}${expected}`);
  });

  it("rejects a file without the PaySim header", async () => {
    const file = join(workDir, "no-header.csv");
    writeFileSync(file, `${sampleLines.slice(1, 3).join("\n")}\n`);
    await expect(seedTransactions({ file, rows: 100, db })).rejects.toThrow(`${file}:1: expected the header`);
  });

  it("npm run seed: a missing file fails with the file named and exit code 1, a good one prints the summary", async () => {
    const run = (args: string[]) =>
      promisify(execFile)("npx", ["tsx", "scripts/seed.ts", ...args], {
        cwd: REPO,
        env: { ...process.env, DATABASE_URL: databaseUrl },
      }).then(
        (result) => ({ code: 0, ...result }),
        (error: { code: number; stdout: string; stderr: string }) => error,
      );
    const missing = await run(["--file", join(workDir, "nope.csv")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`seed failed: ${join(workDir, "nope.csv")}: no such file`);

    await pool.query("truncate transactions");
    const ok = await run(["--rows", "100", "--file", SAMPLE]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(
      new RegExp(`^seed: read 100, inserted 100, skipped 0 \\(already stored\\) from ${SAMPLE} in \\d+ ms\\n$`),
    );
    const again = await run(["--rows", "100", "--file", SAMPLE]);
    expect(again.stdout).toContain("read 100, inserted 0, skipped 100");
    expect(await count()).toBe(100);
  });
});
