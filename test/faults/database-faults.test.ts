import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Admin, Producer } from "kafkajs";
import pg from "pg";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  deadLetterCount,
  endOffsetTotal,
  eventually,
  type FaultPostgres,
  groupStable,
  parseLogLines,
  startFaultPostgres,
  storedCounts,
} from "../support/fault-infra.js";
import { acceptedIds, paysimBody, postMany, startLoad } from "../support/fault-load.js";
import { recordFaultRow, tally } from "../support/fault-results.js";
import { testKafka, uniqueName } from "../support/kafka.js";
import { type OfflineServer, startOffline } from "../support/offline.js";

/**
 * Ordinary database trouble while `npm start` runs (the API and the local trigger in one process, as users run
 * it, against a PostgreSQL cluster of the test's own): every class is an outage, never poison. What was
 * accepted is stored once the database serves again, nothing is dead-lettered, reads answer 503 within 5 s,
 * and the process lives through it. The server connects as an ordinary role (not a superuser), as a deployed
 * function does, so a connection limit applies to it.
 */

const topic = uniqueName("test.db-faults");
const deadLetterTopic = `${topic}.dead-letter`;
const group = uniqueName("test.db-faults-group");
const APP_ROLE = "txlog_app";
const APP_PASSWORD = randomBytes(12).toString("hex");
/** The consume function's statements are cancelled after 1 s here, so a lock makes many failed attempts. */
const STATEMENT_TIMEOUT_MS = 1_000;
/** Lambda's retry limit txlog configured before (maximumRetryAttempts: 10): the lock outlasts it. */
const OLD_RETRY_LIMIT = 10;
/** Long enough for more than OLD_RETRY_LIMIT attempts at 1 s each plus the trigger's backoff (capped at 5 s). */
const LOCK_MS = 60_000;

const kafka = testKafka();
const admin: Admin = kafka.admin();
let producer: Producer;
let database: FaultPostgres;
let appUrl: string;
let server: OfflineServer;

interface LogLine {
  msg?: string;
  cause?: string;
  attempts?: number;
  downMs?: number;
}

/** The server's structured log lines so far (pino JSON among serverless's own output). */
const logLines = () => parseLogLines<LogLine>(server.output());

const outageLines = () => logLines().filter((line) => line.msg?.startsWith("dependency outage"));

/**
 * Waits, among the outage log lines after the first `before`, for one whose cause names `cause` and an "over"
 * line after it; returns the lines from the first that names `cause`.
 */
async function outageOver(before: number, cause: string): Promise<LogLine[]> {
  const since = () => {
    const lines = outageLines().slice(before);
    const first = lines.findIndex((line) => `${line.cause}`.includes(cause));
    return first < 0 ? [] : lines.slice(first);
  };
  await eventually(
    `the trigger logging an outage (${cause}) and its end`,
    async () => since(),
    (lines) => lines.some((line) => line.msg?.startsWith("dependency outage over")),
    90_000,
  );
  return since();
}

async function superuser<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: database.url });
  client.on("error", () => {});
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** What the routes under test answer with, loosely: problem bodies, health, stats. */
interface Answer {
  status?: number;
  message?: string;
  issues?: { field: string; reason: string }[];
  throughput?: unknown;
  unavailable?: Record<string, string>;
}

async function get(path: string): Promise<{ status: number; ms: number; retryAfter: string | null; body: Answer }> {
  const started = performance.now();
  const response = await fetch(`${server.baseUrl}${path}`, { headers: server.headers(), signal: AbortSignal.timeout(20_000) });
  const body = ((await response.json().catch(() => undefined)) ?? {}) as Answer;
  return { status: response.status, ms: performance.now() - started, retryAfter: response.headers.get("retry-after"), body };
}

const serverAlive = () => {
  try {
    process.kill(server.pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Row counts of `ids` (the scenarios share one topic: rows of earlier scenarios are not this one's). */
async function countsOf(ids: string[]): Promise<Map<string, number>> {
  const all = await storedCounts(database.pool, topic);
  return new Map(ids.flatMap((id) => (all.has(id) ? [[id, all.get(id) as number]] : [])));
}

/** The scenario's row in the fault table: nothing dead-lettered or redelivered is asserted before it is written. */
function recordOutage(
  scenario: string,
  { stored, lost, duplicated }: ReturnType<typeof tally>,
  accepted: number,
  recoverMs: number | null,
  note: string,
): void {
  recordFaultRow({ scenario, accepted, stored, lost, duplicated, deadLettered: 0, redelivered: 0, recoverMs, note });
}

/** Every id stored exactly once, nothing on the dead-letter table or topic; returns the tally. */
async function expectAllStored(ids: string[]) {
  await eventually(
    "every accepted transaction stored",
    async () => tally(ids, await countsOf(ids)),
    (result) => result.lost === 0,
    90_000,
  );
  const result = tally(ids, await countsOf(ids));
  expect({ lost: result.lost, duplicated: result.duplicated }).toEqual({ lost: 0, duplicated: 0 });
  expect(await deadLetterCount(database.pool, topic)).toBe(0);
  expect(await endOffsetTotal(admin, deadLetterTopic).catch(() => 0)).toBe(0);
  return result;
}

beforeAll(async () => {
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 3, replicationFactor: 1 }] });
  producer = kafka.producer({ idempotent: true });
  await producer.connect();
  database = await startFaultPostgres();
  await superuser(async (client) => {
    // The test's cluster authenticates with scram-sha-256, as the project-started one does.
    await client.query(`create role ${APP_ROLE} login password '${APP_PASSWORD}'`);
    await client.query(`grant all on all tables in schema public to ${APP_ROLE}`);
    await client.query(`grant all on all sequences in schema public to ${APP_ROLE}`);
  });
  const url = new URL(database.url);
  url.username = APP_ROLE;
  url.password = APP_PASSWORD;
  appUrl = url.toString();
  server = await startOffline({
    env: {
      TRANSACTIONS_TOPIC: topic,
      DEAD_LETTER_TOPIC: deadLetterTopic,
      CONSUMER_GROUP_ID: group,
      DATABASE_URL: appUrl,
      DATABASE_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS),
      LOG_LEVEL: "info",
    },
  });
  // The trigger in its group before any fault.
  await groupStable(admin, group, 1);
}, 180_000);

afterAll(async () => {
  await server?.stop();
  await producer?.disconnect().catch(() => {});
  await database?.destroy();
  await admin.deleteTopics({ topics: [topic, deadLetterTopic] }).catch(() => {});
  await admin.disconnect();
});

describe("fault: ordinary database trouble under npm start is an outage, never poison", () => {
  it("a lock on transactions (and the summary's transaction_totals) held past every retry budget: the rows are stored after it, reads answer 503 within 5 s meanwhile", async () => {
    const before = outageLines().length;
    const locker = new pg.Client({ connectionString: database.url });
    await locker.connect();
    await locker.query("begin");
    await locker.query("lock table transactions, transaction_totals in access exclusive mode");
    const lockedAt = performance.now();
    let unlockedAt = 0;
    try {
      const posted = await postMany(server, 50, 8);
      expect(posted.filter((result) => result.status !== 202)).toEqual([]);
      const ids = acceptedIds(posted);

      // Reads during the lock: 503 + Retry-After within 5 s, never a 500 or a hang.
      const reads = await Promise.all([
        get(`/transactions/${ids[0]}`),
        get("/reports?limit=10"),
        get("/reports/summary"),
        get("/reports?limit=10&type=PAYMENT"),
      ]);
      for (const read of reads) {
        expect(read.status, JSON.stringify(read.body)).toBe(503);
        expect(read.retryAfter).toMatch(/^\d+$/);
        expect(read.ms).toBeLessThan(5_000);
        expect(read.body.message).toContain("57014");
      }
      // ... and their statements were cancelled by the server, not left waiting on the lock.
      const waitingReads = await superuser(async (client) => {
        const { rows } = await client.query(
          "select count(*)::int as n from pg_stat_activity where usename = $1 and wait_event_type = 'Lock' and query ilike 'select%'",
          [APP_ROLE],
        );
        return rows[0].n as number;
      });
      expect(waitingReads).toBe(0);
      const health = await get("/health");
      expect(health.status).toBe(200);
      expect(health.body).toMatchObject({ status: "degraded", checks: { database: { status: "degraded" } } });
      expect(health.ms).toBeLessThan(5_000);
      const stats = await get("/pipeline/stats");
      expect(stats.status).toBe(200);
      expect(stats.body.throughput).toBeNull();
      expect(stats.body.unavailable?.throughput).toContain("57014");

      await sleep(Math.max(0, LOCK_MS - (performance.now() - lockedAt)));
      expect(serverAlive()).toBe(true);
      await locker.query("rollback");
      unlockedAt = performance.now();

      const lines = await outageOver(before, "57014");
      const recoverMs = performance.now() - unlockedAt;
      const result = await expectAllStored(ids);
      // One line when the outage began, one when it ended: not one per attempt.
      expect(lines.filter((line) => line.msg?.startsWith("dependency outage:"))).toHaveLength(1);
      const over = lines.find((line) => line.msg?.startsWith("dependency outage over"));
      expect(over?.cause).toContain("57014");
      expect(over?.attempts).toBeGreaterThan(OLD_RETRY_LIMIT);
      const afterwards = await get(`/transactions/${ids[0]}`);
      expect(afterwards.status).toBe(200);
      recordOutage(
        `transactions locked ${LOCK_MS / 1000} s (npm start, statement_timeout 1 s)`,
        result,
        ids.length,
        recoverMs,
        `${over?.attempts} failed attempts (SQLSTATE 57014), more than the ${OLD_RETRY_LIMIT} retries of the old configuration; reads 503 in ${Math.max(...reads.map((read) => Math.round(read.ms)))} ms at most; /health degraded`,
      );
    } finally {
      if (!unlockedAt) await locker.query("rollback").catch(() => {});
      await locker.end().catch(() => {});
    }
  }, 240_000);

  it("a deadlock between the consume function and another transaction (40P01): retried, stored once", async () => {
    const before = outageLines().length;
    const [first, second] = [uuidv7(), uuidv7()];
    const message = (id: string) => ({
      key: "C-deadlock",
      value: JSON.stringify({
        id,
        receivedAt: new Date().toISOString(),
        transaction: { ...paysimBody(1), nameOrig: "C-deadlock", isFraud: false, isFlaggedFraud: false },
      }),
    });
    const other = new pg.Client({ connectionString: database.url });
    other.on("error", () => {});
    await other.connect();
    // A place in the (historical) hash chain no real row takes: the check constraint wants one; the rows roll back.
    const insert = (id: string) =>
      other.query(
        `insert into transactions (id, step, type, amount, name_orig, old_balance_orig, new_balance_orig, name_dest,
           old_balance_dest, new_balance_dest, is_fraud, is_flagged_fraud, status, received_at, chain_seq, chain_hash)
         values ($1, 1, 'PAYMENT', 1, 'C-other', 0, 0, 'M-other', 0, 0, false, false, 'Completed', now(),
           9000000000000000 + (random() * 1e12)::bigint, 'other')`,
        [id],
      );
    // The consume function's sessions check for a deadlock 600 ms into a lock wait (before their 1 s statement
    // timeout); this session only after 20 s, so the consume function is the one PostgreSQL aborts.
    await superuser(async (client) => {
      await client.query("alter system set deadlock_timeout = '600ms'");
      await client.query("select pg_reload_conf()");
    });
    try {
      await other.query("begin");
      await other.query("set local deadlock_timeout = '20s'");
      await insert(second);
      // One send: both records in one batch of one partition, inserted in order by one statement.
      await producer.send({ topic, messages: [message(first), message(second)].map((m) => ({ ...m, partition: 0 })) });
      await eventually(
        "the consume function waiting on the second row",
        () =>
          superuser(async (client) => {
            const { rows } = await client.query(
              "select count(*)::int as n from pg_stat_activity where usename = $1 and wait_event_type = 'Lock'",
              [APP_ROLE],
            );
            return rows[0].n as number;
          }),
        (n) => n > 0,
        30_000,
        20,
      );
      // Waits on the consume function's first row while it waits on ours: a deadlock it is aborted for.
      await insert(first);
      await other.query("rollback");
    } finally {
      await other.end().catch(() => {});
      await superuser(async (client) => {
        await client.query("alter system reset deadlock_timeout");
        await client.query("select pg_reload_conf()");
      });
    }
    const lines = await outageOver(before, "40P01");
    expect(lines[0]?.cause).toContain("40P01");
    const result = await expectAllStored([first, second]);
    recordOutage(
      "deadlock with another transaction (40P01)",
      result,
      2,
      null,
      "the consume function was the deadlock's victim; its batch was retried and stored",
    );
  }, 120_000);

  it("too many connections (53300) and terminated backends (57P01): held, then stored", async () => {
    const before = outageLines().length;
    await superuser(async (client) => {
      await client.query(`alter role ${APP_ROLE} connection limit 0`);
      await client.query("select pg_terminate_backend(pid) from pg_stat_activity where usename = $1", [APP_ROLE]);
    });
    let restoredAt = 0;
    try {
      const posted = await postMany(server, 30, 6);
      expect(posted.filter((result) => result.status !== 202)).toEqual([]);
      await eventually(
        "the trigger holding a batch for the connection limit",
        async () => outageLines().slice(before),
        (lines) => lines.some((line) => `${line.cause}`.includes("53300")),
        30_000,
      );
      const read = await get("/reports?limit=5");
      expect(read.status).toBe(503);
      expect(read.ms).toBeLessThan(5_000);
      await superuser((client) => client.query(`alter role ${APP_ROLE} connection limit -1`));
      restoredAt = performance.now();
      await outageOver(before, "53300");
      const recoverMs = performance.now() - restoredAt;
      const result = await expectAllStored(acceptedIds(posted));
      recordOutage(
        "no connections for the app's role (53300), its backends terminated (57P01)",
        result,
        posted.length,
        recoverMs,
        `reads 503 in ${Math.round(read.ms)} ms meanwhile`,
      );
    } finally {
      if (!restoredAt) await superuser((client) => client.query(`alter role ${APP_ROLE} connection limit -1`));
    }
  }, 150_000);

  it("PostgreSQL restarted under load: the process survives, every accepted transaction is stored", async () => {
    const load = startLoad(server, 4, 5);
    // Idle connections in both pools when the server goes away: each must fail without taking the process down.
    await Promise.all(Array.from({ length: 30 }, () => get("/reports?limit=5")));
    await sleep(3_000);
    // Immediate: what a crash or a failover looks like to the connections (no goodbye), the harshest restart.
    await database.server.stop("immediate");
    await sleep(2_000);
    await database.server.start();
    const upAt = performance.now();
    await sleep(3_000);
    const results = await load.stop();
    expect(serverAlive()).toBe(true);
    // Kafka holds the work: the API never needed the database to accept.
    expect(results.filter((result) => result.status !== 202)).toEqual([]);
    const ids = acceptedIds(results);
    const result = await expectAllStored(ids);
    const recoverMs = performance.now() - upAt;
    expect((await get("/health")).body.status).toBe("up");
    expect(serverAlive()).toBe(true);
    recordOutage(
      "PostgreSQL restarted (immediate shutdown, 2 s down) under load (npm start)",
      result,
      ids.length,
      recoverMs,
      `${results.length} POSTs during the restart, all 202; the process survived`,
    );
  }, 180_000);

  it("a row the schema accepts but the database refuses is dead-lettered alone (rejected); the batch is stored; GET says so", async () => {
    await superuser((client) => client.query("alter table transactions add constraint amount_limit check (amount < 1000000)"));
    try {
      const big = { ...paysimBody(7), amount: "2000000.00" };
      const response = await fetch(`${server.baseUrl}/transactions`, {
        method: "POST",
        headers: server.headers({ "content-type": "application/json" }),
        body: JSON.stringify([paysimBody(1), big, paysimBody(2), paysimBody(3)]),
      });
      expect(response.status).toBe(202);
      const { ids } = (await response.json()) as { ids: string[] };
      const refused = ids[1] as string;
      await eventually(
        "the refused row dead-lettered",
        () => deadLetterCount(database.pool, topic),
        (n) => n === 1,
        30_000,
      );
      const { rows } = await database.pool.query(
        "select reason, detail, transaction_id::text from dead_letters where topic = $1",
        [topic],
      );
      expect(rows).toEqual([{ reason: "rejected", detail: expect.stringContaining("23514"), transaction_id: refused }]);
      const counts = await storedCounts(database.pool, topic);
      for (const id of ids.filter((id) => id !== refused)) expect(counts.get(id)).toBe(1);
      expect(counts.has(refused)).toBe(false);
      const gone = await get(`/transactions/${refused}`);
      expect(gone.status).toBe(410);
      expect(gone.body).toMatchObject({ status: 410, issues: [{ field: "id", reason: "dead-lettered: rejected" }] });
      expect(gone.body.message).toContain("23514");
    } finally {
      await superuser((client) => client.query("alter table transactions drop constraint amount_limit"));
    }
  }, 60_000);
});
