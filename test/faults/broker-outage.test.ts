import { setTimeout as sleep } from "node:timers/promises";
import type { Admin } from "kafkajs";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  committedThroughStored,
  deadLetterCount,
  eventually,
  type FaultBroker,
  groupStable,
  spawnWorker,
  startFaultBroker,
  stopWorker,
  storedCounts,
  type WorkerProcess,
} from "../support/fault-infra.js";
import { acceptedIds, type PostResult, postMany, postTransaction } from "../support/fault-load.js";
import { recordFaultRow, tally } from "../support/fault-results.js";
import { testKafka, uniqueName } from "../support/kafka.js";
import { type OfflineServer, startOffline } from "../support/offline.js";

const BEFORE = 300;
const AFTER = 300;
const OUTAGE_MS = 8_000;
const POSTS_WHILE_DOWN = 6;

const topic = uniqueName("test.fault-broker");
const group = uniqueName("test.fault-broker-group");
// global-setup points DATABASE_URL at the migrated test database.
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
let broker: FaultBroker;
let admin: Admin;
let server: OfflineServer;
let worker: WorkerProcess;

beforeAll(async () => {
  broker = await startFaultBroker();
  admin = testKafka(broker.brokers).admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 3, replicationFactor: 1 }] });
  const env = { KAFKA_BROKERS: broker.brokers.join(","), TRANSACTIONS_TOPIC: topic, DEAD_LETTER_TOPIC: `${topic}.dead-letter` };
  server = await startOffline({ env: { ...env, OFFLINE_KAFKA_ENABLED: "false" } });
  worker = spawnWorker({ topic, group, env });
  // In the group before the fault: the outage is for a running worker, not one still starting.
  await groupStable(admin, group, 1);
});

afterAll(async () => {
  if (worker) await stopWorker(worker);
  await server?.stop();
  await admin?.disconnect().catch(() => {});
  await broker?.destroy();
  await pool.end();
});

describe("fault: the Kafka broker stops while the API and the worker run", () => {
  it("the API answers 503 + Retry-After within 5 s while it is down; once it is back, the API accepts again and the worker drains the backlog exactly once", async () => {
    const before = await postMany(server, BEFORE);
    expect(before.filter((result) => result.status !== 202)).toEqual([]);
    // At once, so part of what was accepted is still unconsumed (or stored but not committed) when it goes.
    await broker.server.stop();
    const downAt = performance.now();

    const whileDown: PostResult[] = [];
    for (let attempt = 0; attempt < POSTS_WHILE_DOWN; attempt += 1) whileDown.push(await postTransaction(server, attempt));
    expect(whileDown.map((result) => result.status)).toEqual(Array(POSTS_WHILE_DOWN).fill(503));
    expect(whileDown.every((result) => Number(result.retryAfter) > 0)).toBe(true);
    const slowestMs = Math.max(...whileDown.map((result) => result.ms));
    expect(slowestMs).toBeLessThan(5_000);
    await sleep(Math.max(0, OUTAGE_MS - (performance.now() - downAt)));
    expect(worker.child.exitCode).toBeNull();

    await broker.server.start();
    const upAt = performance.now();
    // The API recovers by itself: retry like a client honouring Retry-After (here: quickly) until 202.
    const recovery: PostResult[] = [];
    for (let attempt = 0; attempt < 60; attempt += 1) {
      const result = await postTransaction(server, BEFORE + attempt);
      recovery.push(result);
      if (result.status === 202) break;
      await sleep(250);
    }
    const apiRecoverMs = (recovery.at(-1)?.status === 202 ? performance.now() : Number.NaN) - upAt;
    expect(recovery.at(-1)?.status).toBe(202);
    expect(recovery.every((result) => result.status === 202 || result.status === 503)).toBe(true);

    const backlog = acceptedIds(before);
    const drained = await eventually(
      "the backlog accepted before the outage stored",
      async () => tally(backlog, await storedCounts(pool, topic)).stored,
      (n) => n === BEFORE,
      90_000,
    ).catch((error: Error) => {
      // The worker's own account of the outage is what explains a stuck backlog.
      const tail = worker
        .logs()
        .slice(-25)
        .map((line) => JSON.stringify(line));
      throw new Error(`${error.message}\nworker log tail:\n${tail.join("\n")}`);
    });
    const workerRecoverMs = performance.now() - upAt;
    expect(drained).toBe(BEFORE);

    const after = await postMany(server, AFTER);
    expect(after.filter((result) => result.status !== 202)).toEqual([]);
    const accepted = acceptedIds([...before, ...recovery, ...after]);
    await eventually(
      "every accepted row stored",
      async () => (await storedCounts(pool, topic)).size,
      (n) => n >= accepted.length,
    );
    await eventually("offsets committed to the end", () => committedThroughStored(admin, pool, group, topic), Boolean, 60_000);
    expect(await stopWorker(worker)).toBe(0);

    const counts = await storedCounts(pool, topic);
    const { stored, lost, duplicated } = tally(accepted, counts);
    const acceptedSinceUp = acceptedIds([...recovery, ...after]);
    const sinceUp = tally(acceptedSinceUp, new Map([...counts].filter(([id]) => acceptedSinceUp.includes(id))));
    const deadLettered = await deadLetterCount(pool, topic);
    recordFaultRow({
      scenario: `broker stopped ${OUTAGE_MS / 1000} s: API`,
      accepted: acceptedSinceUp.length,
      ...sinceUp,
      deadLettered,
      redelivered: 0,
      recoverMs: apiRecoverMs,
      note: `${POSTS_WHILE_DOWN} valid POSTs while down: all 503 + Retry-After, slowest ${(slowestMs / 1000).toFixed(2)} s; recover = broker up → first 202`,
    });
    recordFaultRow({
      scenario: `broker stopped ${OUTAGE_MS / 1000} s: worker`,
      accepted: accepted.length,
      stored,
      lost,
      duplicated,
      deadLettered,
      redelivered: worker.redelivered(),
      recoverMs: workerRecoverMs,
      note: `${BEFORE} accepted just before the stop; recover = broker up → that backlog stored`,
    });
    expect({ lost, duplicated, deadLettered }).toEqual({ lost: 0, duplicated: 0, deadLettered: 0 });
    expect(sinceUp).toEqual({ stored: acceptedSinceUp.length, lost: 0, duplicated: 0 });
    expect(stored).toBe(accepted.length);
  }, 240_000);
});
