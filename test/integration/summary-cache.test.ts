import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { drizzle } from "drizzle-orm/node-postgres";
import pg from "pg";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Database, migrateDatabase } from "../../lib/db/client.js";
import * as schema from "../../lib/db/schema.js";
import { insertTransactions } from "../../lib/db/transactions.js";
import { DependencyUnavailableError } from "../../lib/errors.js";
import { ensureTopics } from "../../lib/kafka/admin.js";
import { SUMMARY_CACHE_MS, type SummaryFilter, summarizeTransactions } from "../../lib/reports/summary.js";
import { dropDatabase, ensureDatabase, withDatabase } from "../../scripts/infra/index.js";
import { closePool } from "../support/database.js";
import { eventually } from "../support/fault-infra.js";
import { uniqueName } from "../support/kafka.js";
import { type OfflineServer, startOffline } from "../support/offline.js";

/**
 * The summary is computed once per filter and window however many ask for it: concurrent identical requests
 * share one query, identical requests within SUMMARY_CACHE_MS get its answer, a failure is not kept. Counted
 * on a database of the test's own: by the statements a pool sees (direct calls) and by the summary statements
 * PostgreSQL has waiting on a lock (GET /reports/summary on the real server).
 */

const databaseName = `txlog_summary_cache_${randomBytes(4).toString("hex")}`;
const databaseUrl = withDatabase(process.env.DATABASE_URL as string, databaseName);
const topic = uniqueName("test.summary-cache");
/** The summary's statement, told apart from every other by its GROUPING SETS. */
const SUMMARY_STATEMENT = /grouping sets/i;

let admin: pg.Pool;

/** A pool of its own whose summary statements are counted as they are sent. */
function countingDatabase(options: pg.PoolConfig = {}): { db: Database; pool: pg.Pool; summaries: () => number } {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10, ...options });
  pool.on("error", () => {});
  let summaries = 0;
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  pool.query = ((...args: unknown[]) => {
    const [statement] = args;
    const text = typeof statement === "string" ? statement : (statement as { text?: string }).text;
    if (text && SUMMARY_STATEMENT.test(text)) summaries += 1;
    return query(...args);
  }) as typeof pool.query;
  return { db: drizzle(pool, { schema }) as unknown as Database, pool, summaries: () => summaries };
}

function row(step: number, amount: string) {
  return {
    id: uuidv7(),
    step,
    type: "PAYMENT" as const,
    amount,
    nameOrig: "C1",
    oldbalanceOrg: "0.00",
    newbalanceOrig: "0.00",
    nameDest: "M1",
    oldbalanceDest: "0.00",
    newbalanceDest: "0.00",
    isFraud: false,
    isFlaggedFraud: false,
    status: "Historical" as const,
    receivedAt: new Date(),
  };
}

/** Holds an ACCESS EXCLUSIVE lock on the table the summary reads until the returned function is called. */
async function lockSummaryTable(): Promise<() => Promise<void>> {
  const locker = new pg.Client({ connectionString: databaseUrl });
  await locker.connect();
  await locker.query("begin");
  await locker.query("lock table transaction_totals in access exclusive mode");
  return async () => {
    await locker.query("rollback");
    await locker.end();
  };
}

beforeAll(async () => {
  await ensureDatabase(databaseUrl);
  await migrateDatabase(databaseUrl);
  admin = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const { db, pool } = countingDatabase();
  await insertTransactions(db, [row(1, "10.00"), row(1, "20.00"), row(2, "5.50")]);
  await pool.end();
});

afterAll(async () => {
  await closePool(admin);
  await dropDatabase(databaseUrl);
});

describe("summarizeTransactions' cache", () => {
  it("runs one query for 20 concurrent identical calls, and one per distinct filter", async () => {
    const { db, pool, summaries } = countingDatabase();
    try {
      const filter: SummaryFilter = { stepFrom: 1, stepTo: 2 };
      const answers = await Promise.all(Array.from({ length: 20 }, () => summarizeTransactions({ ...filter }, db)));
      expect(summaries()).toBe(1);
      expect(answers.every((answer) => answer === answers[0])).toBe(true);
      expect(answers[0]).toMatchObject({ count: 3, amount: "35.50" });

      await Promise.all([
        summarizeTransactions({ stepFrom: 1, stepTo: 1 }, db),
        summarizeTransactions({ stepFrom: 1, stepTo: 1 }, db),
        summarizeTransactions({ stepFrom: 2, stepTo: 2 }, db),
      ]);
      expect(summaries()).toBe(3);
    } finally {
      await pool.end();
    }
  });

  it(`answers from that computation for ${SUMMARY_CACHE_MS} ms, then computes again and sees new rows`, async () => {
    const { db, pool, summaries } = countingDatabase();
    try {
      const filter: SummaryFilter = { stepFrom: 3, stepTo: 3 };
      expect((await summarizeTransactions(filter, db)).count).toBe(0);
      await insertTransactions(db, [row(3, "1.00")]);
      // Within the window: the answer computed before the insert.
      expect((await summarizeTransactions(filter, db)).count).toBe(0);
      expect(summaries()).toBe(1);
      await sleep(SUMMARY_CACHE_MS + 200);
      expect((await summarizeTransactions(filter, db)).count).toBe(1);
      expect(summaries()).toBe(2);
    } finally {
      await pool.end();
    }
  });

  it("does not keep a failure: the next call asks the database again", async () => {
    // The server cancels this pool's statements after 300 ms, as the read pool's after DATABASE_READ_TIMEOUT_MS.
    const { db, pool, summaries } = countingDatabase({ statement_timeout: 300 });
    const release = await lockSummaryTable();
    try {
      const filter: SummaryFilter = { stepFrom: 1, stepTo: 3 };
      const failed = await summarizeTransactions(filter, db).catch((error: unknown) => error);
      expect(failed).toBeInstanceOf(DependencyUnavailableError);
      expect((failed as DependencyUnavailableError).reason).toContain("57014");
      await release();
      const { rows } = await admin.query<{ n: number }>("select count(*)::int as n from transactions where step between 1 and 3");
      expect((await summarizeTransactions(filter, db)).count).toBe(rows[0]?.n);
      expect(summaries()).toBe(2);
    } finally {
      await release().catch(() => {});
      await pool.end();
    }
  });
});

describe("GET /reports/summary on the real server", () => {
  let server: OfflineServer;

  beforeAll(async () => {
    await ensureTopics([topic, `${topic}.dead-letter`]);
    server = await startOffline({
      env: {
        DATABASE_URL: databaseUrl,
        TRANSACTIONS_TOPIC: topic,
        DEAD_LETTER_TOPIC: `${topic}.dead-letter`,
        CONSUMER_GROUP_ID: uniqueName("test.summary-cache-group"),
        // Room to count the waiting statements before the server cancels them.
        DATABASE_READ_TIMEOUT_MS: "10000",
      },
    });
  });

  afterAll(async () => {
    await server?.stop();
  });

  /** Summary statements of the server waiting for the lock. */
  async function waitingSummaries(): Promise<number> {
    const { rows } = await admin.query<{ n: number }>(
      `select count(*)::int as n from pg_stat_activity
        where datname = current_database() and wait_event_type = 'Lock' and query ilike '%grouping sets%'`,
    );
    return rows[0]?.n ?? 0;
  }

  it("sends one statement per distinct filter for 24 concurrent requests over 3 filters", async () => {
    const release = await lockSummaryTable();
    let answers: { status: number; body: string; query: string }[] = [];
    try {
      const queries = ["stepFrom=1&stepTo=1", "stepFrom=1&stepTo=2", "type=PAYMENT"];
      const requests = Array.from({ length: 24 }, async (_, index) => {
        const query = queries[index % queries.length] as string;
        const response = await fetch(`${server.baseUrl}/reports/summary?${query}`, { headers: server.headers() });
        return { status: response.status, body: await response.text(), query };
      });
      // Every distinct filter's statement reaches the lock (which also shows the requests run concurrently) ...
      await eventually("the summaries waiting on the lock", waitingSummaries, (n) => n >= queries.length, 8_000);
      // ... and no more follow while the lock holds.
      await sleep(1_000);
      expect(await waitingSummaries()).toBe(queries.length);
      await release();
      answers = await Promise.all(requests);
    } finally {
      await release().catch(() => {});
    }
    expect(answers.map(({ status }) => status)).toEqual(Array(24).fill(200));
    for (const query of new Set(answers.map((answer) => answer.query))) {
      expect(new Set(answers.filter((answer) => answer.query === query).map(({ body }) => body)).size).toBe(1);
    }
  });
});
