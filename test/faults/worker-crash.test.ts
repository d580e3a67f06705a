import { randomInt } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Admin } from "kafkajs";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  committedByPartition,
  committedThroughStored,
  deadLetterCount,
  eventually,
  groupStable,
  nextOffsetsStored,
  spawnWorker,
  stopWorker,
  storedCount,
  storedCounts,
  type WorkerProcess,
} from "../support/fault-infra.js";
import { acceptedIds, type PostResult, startLoad } from "../support/fault-load.js";
import { recordFaultRow, tally } from "../support/fault-results.js";
import { testKafka, uniqueName } from "../support/kafka.js";
import { type OfflineServer, startOffline } from "../support/offline.js";

const KILLS = 5;
const admin: Admin = testKafka().admin();
// global-setup points DATABASE_URL at the migrated test database.
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
const topicA = uniqueName("test.fault-crash");
const topicB = uniqueName("test.fault-rebalance");
let server: OfflineServer;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic: topicA, numPartitions: 3, replicationFactor: 1 },
      { topic: topicB, numPartitions: 4, replicationFactor: 1 },
    ],
  });
});

afterAll(async () => {
  for (const worker of workers) worker.kill("SIGKILL");
  await server?.stop();
  await admin.deleteTopics({ topics: [topicA, topicB, `${topicA}.dead-letter`, `${topicB}.dead-letter`] }).catch(() => {});
  await admin.disconnect();
  await pool.end();
});

function worker(topic: string, group: string): WorkerProcess {
  const started = spawnWorker({ topic, group, env: { DEAD_LETTER_TOPIC: `${topic}.dead-letter` } });
  workers.push(started);
  return started;
}

async function firstBatch(of: WorkerProcess, what: string): Promise<number> {
  return eventually(
    what,
    async () => of.firstBatchAt() ?? 0,
    (time) => time > 0,
    60_000,
  );
}

/** The API alone (workers consume), posting to `topic`: a server's topic is fixed at start, so one per test. */
/**
 * After the load: every 202 came back, the worker stores every accepted row and commits to the end of
 * the topic, stops with exit 0 on SIGTERM; then the tally of accepted ids against stored rows.
 */
async function settle(results: PostResult[], topic: string, group: string, last: WorkerProcess) {
  const accepted = acceptedIds(results);
  expect(results.filter((result) => result.status !== 202)).toEqual([]);
  await eventually(
    "every accepted row stored",
    () => storedCount(pool, topic),
    (n) => n >= accepted.length,
    60_000,
  );
  await eventually("offsets committed to the end", () => committedThroughStored(admin, pool, group, topic), Boolean);
  expect(await stopWorker(last)).toBe(0);
  return { accepted, ...tally(accepted, await storedCounts(pool, topic)) };
}

async function apiFor(topic: string): Promise<OfflineServer> {
  await server?.stop();
  server = await startOffline({ env: { TRANSACTIONS_TOPIC: topic, OFFLINE_KAFKA_ENABLED: "false" } });
  return server;
}

describe("fault: the worker crashes", () => {
  it(`SIGKILLed ${KILLS} times at random moments under load: the database holds exactly the accepted set; SIGTERM exits 0 after committing`, async () => {
    const api = await apiFor(topicA);
    const group = uniqueName("test.fault-crash-group");
    const load = startLoad(api, 4);
    let current = worker(topicA, group);
    const recoveries: number[] = [];
    const delays: string[] = [];
    try {
      for (let kill = 0; kill < KILLS; kill += 1) {
        // Mid-work: the worker has stored at least one batch, then a random moment later it dies; every
        // other kill lands right after a database commit, before (most likely) the offset commit.
        await firstBatch(current, "the worker storing a batch");
        const delay = randomInt(100, 1_500);
        await sleep(delay);
        if (kill % 2 === 1) {
          delays.push(`${delay}+next batch`);
          await current.killAfterNextBatch();
        } else {
          delays.push(String(delay));
          current.kill("SIGKILL");
        }
        await current.exited;
        const killedAt = Date.now();
        current = worker(topicA, group);
        // Until its first batch: boot, join, and the dead member's session expiring.
        recoveries.push((await firstBatch(current, "the restarted worker storing a batch")) - killedAt);
      }
      // SIGTERM under load: finish the batch in flight, commit it, exit 0. Afterwards every stored row's
      // offset is committed and nothing beyond the stored rows is.
      // (Past the rows the last killed worker stored without committing: its successor re-reads them first.)
      const last = current;
      await eventually(
        "a few batches stored",
        async () => last.logs().filter((line) => line.msg === "batch persisted").length,
        (n) => n >= 3,
      );
      await sleep(randomInt(200, 1_000));
      expect(await stopWorker(current)).toBe(0);
      expect(current.output()).toMatch(/"msg":"worker stopped"/);
      expect(await committedByPartition(admin, group, topicA)).toEqual(await nextOffsetsStored(pool, topicA));
      current = worker(topicA, group);
      await sleep(1_000);
    } finally {
      await load.stop();
    }
    const { accepted, stored, lost, duplicated } = await settle(load.results, topicA, group, current);
    const redelivered = workers
      .filter((one) => one.child.spawnargs.includes(group))
      .reduce((sum, one) => sum + one.redelivered(), 0);
    recordFaultRow({
      scenario: `worker SIGKILL ×${KILLS} under API load`,
      accepted: accepted.length,
      stored,
      lost,
      duplicated,
      deadLettered: await deadLetterCount(pool, topicA),
      redelivered,
      recoverMs: Math.max(...recoveries),
      note: `kills ${delays.join(", ")} ms after a stored batch; restart→first batch ${recoveries.map((ms) => (ms / 1000).toFixed(1)).join("/")} s; then SIGTERM under load: exit 0, committed = stored`,
    });
    expect({ lost, duplicated }).toEqual({ lost: 0, duplicated: 0 });
    expect(stored).toBe(accepted.length);
  }, 180_000);

  it("two workers share the group, one hangs past its session (SIGSTOP), is evicted, wakes as a zombie and is SIGKILLed: no row lost or doubled", async () => {
    const api = await apiFor(topicB);
    const group = uniqueName("test.fault-rebalance-group");
    const load = startLoad(api, 4);
    const first = worker(topicB, group);
    const second = worker(topicB, group);
    const persisted = () => first.logs().filter((line) => line.msg === "batch persisted").length;
    let recoverMs: number;
    let zombieBatches = 0;
    try {
      await groupStable(admin, group, 2);
      await Promise.all([firstBatch(first, "the first worker storing"), firstBatch(second, "the second worker storing")]);
      await sleep(randomInt(200, 1_500));
      // Frozen mid-work (a long GC pause, a hung host): it holds fetched, uncommitted records and sends no heartbeat.
      first.kill("SIGSTOP");
      const frozenAt = performance.now();
      await groupStable(admin, group, 1, 30_000);
      recoverMs = performance.now() - frozenAt;
      // The survivor now re-reads the frozen worker's partitions from their last commit.
      await sleep(1_500);
      const persistedBefore = persisted();
      first.kill("SIGCONT");
      // The zombie finishes what it held (rows the survivor may have stored already); its offset commit is refused.
      await eventually(
        "the zombie's stale batch",
        async () => persisted() - persistedBefore,
        (n) => n > 0,
        10_000,
      ).catch(() => 0);
      zombieBatches = persisted() - persistedBefore;
      first.kill("SIGKILL");
      await first.exited;
      await sleep(1_000);
    } finally {
      await load.stop();
    }
    const { accepted, stored, lost, duplicated } = await settle(load.results, topicB, group, second);
    recordFaultRow({
      scenario: "rebalance: 2 workers, 1 hung past its session, then SIGKILLed",
      accepted: accepted.length,
      stored,
      lost,
      duplicated,
      deadLettered: await deadLetterCount(pool, topicB),
      redelivered: first.redelivered() + second.redelivered(),
      recoverMs,
      note: `recover = freeze → survivor owns all 4 partitions (session timeout 6 s); the woken zombie persisted ${zombieBatches} stale batch(es) before the kill`,
    });
    expect({ lost, duplicated }).toEqual({ lost: 0, duplicated: 0 });
    expect(stored).toBe(accepted.length);
    // The zombie's stale batch and the survivor's re-read overlapped: the same records were handled twice.
    expect(first.redelivered() + second.redelivered()).toBeGreaterThan(0);
  }, 120_000);
});
