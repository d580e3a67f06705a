import { randomBytes } from "node:crypto";
import { drizzle } from "drizzle-orm/node-postgres";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fillSynthetic, syntheticReceivedAt } from "../../bench/lib/synthetic.js";
import { type Database, migrateDatabase } from "../../lib/db/client.js";
import * as schema from "../../lib/db/schema.js";
import { readDeadLetters, readThroughput } from "../../lib/pipeline/stats.js";
import { encodeCursor, getTransaction, listTransactions, parseReportsQuery } from "../../lib/reports/list.js";
import { summarizeTransactions } from "../../lib/reports/summary.js";
import { dropDatabase, ensureDatabase, withDatabase } from "../../scripts/infra/index.js";
import { closePool } from "../support/database.js";

/**
 * Every read the API makes, as the API's own code sends it (captured from its drizzle instance), run
 * through EXPLAIN against 200,000 generated rows: each page must be an index scan in the page's order
 * (an index of lib/db/schema.ts meant for that filter, no Sort, no sequential scan of transactions), and
 * the summary must not read transactions at all. A changed query or index that loses its plan fails here,
 * long before a table is big enough for anyone to notice the time.
 */

const ROWS = 200_000;
const databaseUrl = withDatabase(process.env.DATABASE_URL as string, `txlog_plans_${randomBytes(4).toString("hex")}`);

let pool: pg.Pool;
let cursor: string;
let middleId: string;
let middleAccount: string;

interface Captured {
  sql: string;
  params: unknown[];
}

/** A drizzle instance that records each statement it sends (and still runs it, so the reads answer). */
function capturing(): { db: Database; statements: Captured[] } {
  const statements: Captured[] = [];
  const db = drizzle(pool, {
    schema,
    logger: { logQuery: (sql, params) => statements.push({ sql, params }) },
  }) as unknown as Database;
  return { db, statements };
}

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  Plans?: PlanNode[];
}

function nodesOf(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodesOf)];
}

/** The plan PostgreSQL chooses for a captured statement with its parameters. */
async function planOf({ sql, params }: Captured): Promise<PlanNode[]> {
  const { rows } = await pool.query(`explain (format json) ${sql}`, params);
  return nodesOf(rows[0]["QUERY PLAN"][0].Plan as PlanNode);
}

const scansOf = (nodes: PlanNode[], relation: string) => nodes.filter((node) => node["Relation Name"] === relation);

/** The page's plan: one index scan of transactions by one of `indexes`, nothing sorted, nothing scanned in full. */
async function expectPageUses(query: Record<string, string>, indexes: string[]): Promise<void> {
  const { db, statements } = capturing();
  await listTransactions(parseReportsQuery({ limit: "100", ...query }), db);
  expect(statements).toHaveLength(1);
  const nodes = await planOf(statements[0] as Captured);
  const scans = scansOf(nodes, "transactions");
  expect(
    scans.map((node) => node["Node Type"]),
    JSON.stringify(query),
  ).toEqual(["Index Scan"]);
  expect(indexes, JSON.stringify(query)).toContain(scans[0]?.["Index Name"]);
  expect(nodes.filter((node) => node["Node Type"] === "Sort" || node["Node Type"].includes("Gather"))).toEqual([]);
}

beforeAll(async () => {
  await ensureDatabase(databaseUrl);
  await migrateDatabase(databaseUrl);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await fillSynthetic(client, ROWS);
    const middle = syntheticReceivedAt(ROWS / 2 + 1, ROWS);
    const { rows } = await client.query("select id, name_orig from transactions where received_at = $1", [middle]);
    middleId = rows[0].id;
    middleAccount = rows[0].name_orig;
    cursor = encodeCursor({ receivedAt: middle.toISOString(), id: middleId });
  } finally {
    await client.end();
  }
  pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
});

afterAll(async () => {
  await closePool(pool);
  await dropDatabase(databaseUrl);
});

const RECEIVED = "transactions_received_idx";
const TYPE = "transactions_type_received_idx";

/**
 * Each filter and the indexes that may serve it. A type every twelfth row has (TRANSFER) may also be read
 * from the unfiltered index, checking the type as it goes: about 12 rows read per row shown, as cheap, and
 * the planner's to choose (types are not ordered in time, unlike statuses: every seeded row is older).
 */
const PAGES: [string, Record<string, string>, string[]][] = [
  ["no filter", {}, [RECEIVED]],
  ["status=Completed", { status: "Completed" }, ["transactions_completed_received_idx"]],
  ["status=Historical", { status: "Historical" }, ["transactions_historical_received_idx"]],
  ["type=TRANSFER", { type: "TRANSFER" }, [TYPE, RECEIVED]],
  ["type=DEBIT", { type: "DEBIT" }, [TYPE]],
  ["isFraud=true", { isFraud: "true" }, ["transactions_fraud_received_idx"]],
  // Nearly every row matches: the page's own index, filtered as it goes.
  ["isFraud=false", { isFraud: "false" }, [RECEIVED]],
  ["nameOrig", { nameOrig: "the middle row's" }, ["transactions_name_orig_received_idx"]],
];

describe("GET /reports plans", () => {
  for (const [name, query, indexes] of PAGES) {
    it(`${name}: the newest page and a page behind a cursor scan ${indexes.join(" or ")} in order`, async () => {
      if (query.nameOrig) query.nameOrig = middleAccount;
      await expectPageUses(query, indexes);
      await expectPageUses({ ...query, cursor }, indexes);
    });
  }
});

describe("the other reads' plans", () => {
  it("GET /transactions/{id} reads the primary key", async () => {
    const { db, statements } = capturing();
    expect((await getTransaction(middleId, db)).id).toBe(middleId);
    const scans = scansOf(await planOf(statements[0] as Captured), "transactions");
    expect(scans.map((node) => node["Index Name"])).toEqual(["transactions_pkey"]);
  });

  it("GET /reports/summary adds up transaction_totals and never reads transactions", async () => {
    for (const filter of [{}, { type: "TRANSFER" as const, stepFrom: 100, stepTo: 300 }]) {
      const { db, statements } = capturing();
      expect((await summarizeTransactions(filter, db)).count).toBeGreaterThan(0);
      expect(statements).toHaveLength(1);
      const nodes = await planOf(statements[0] as Captured);
      expect(scansOf(nodes, "transactions")).toEqual([]);
      expect(scansOf(nodes, "transaction_totals").length).toBeGreaterThan(0);
    }
  });

  it("GET /pipeline/stats' throughput reads the Completed rows' index by received_at", async () => {
    const { db, statements } = capturing();
    await readThroughput(db);
    const throughput = statements.find((statement) => statement.sql.includes("union all"));
    expect(throughput).toBeDefined();
    const nodes = await planOf(throughput as Captured);
    expect(nodes.filter((node) => node["Node Type"] === "Seq Scan")).toEqual([]);
    // An index scan per branch, or a bitmap scan of the index: either reads only the window's rows.
    expect(nodes.flatMap((node) => node["Index Name"] ?? [])).toEqual([
      "transactions_completed_received_idx",
      "transactions_completed_received_idx",
    ]);
    // The dead letters are their own (small) table: they never touch transactions.
    const letters = capturing();
    await readDeadLetters(letters.db, "any-topic");
    for (const statement of letters.statements) expect(scansOf(await planOf(statement), "transactions")).toEqual([]);
  });
});
