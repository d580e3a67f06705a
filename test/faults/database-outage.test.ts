import { setTimeout as sleep } from "node:timers/promises";
import type { Admin } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  committedByPartition,
  committedThroughStored,
  deadLetterCount,
  eventually,
  type FaultPostgres,
  spawnWorker,
  startFaultPostgres,
  stopWorker,
  storedCount,
  storedCounts,
  type WorkerProcess,
} from "../support/fault-infra.js";
import { acceptedIds, postMany } from "../support/fault-load.js";
import { recordFaultRow, tally } from "../support/fault-results.js";
import { readAllMessages, testKafka, uniqueName } from "../support/kafka.js";
import { type OfflineServer, startOffline } from "../support/offline.js";

const BEFORE = 300;
const DURING = 300;
/** Longer than the worker's 6 s session timeout: the member survives only by heart-beating. */
const OUTAGE_MS = 10_000;

const topic = uniqueName("test.fault-db");
const deadLetterTopic = `${topic}.dead-letter`;
const group = uniqueName("test.fault-db-group");
const kafka = testKafka();
const admin: Admin = kafka.admin();
let database: FaultPostgres;
let server: OfflineServer;
let worker: WorkerProcess;

beforeAll(async () => {
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 3, replicationFactor: 1 }] });
  database = await startFaultPostgres();
  const env = { TRANSACTIONS_TOPIC: topic, DEAD_LETTER_TOPIC: deadLetterTopic, DATABASE_URL: database.url };
  // The API alone (the worker below consumes): it never writes the database, so an outage must not reach it.
  [server] = await Promise.all([startOffline({ env: { ...env, OFFLINE_KAFKA_ENABLED: "false" } })]);
  worker = spawnWorker({ topic, group, env });
});

afterAll(async () => {
  if (worker) await stopWorker(worker);
  await server?.stop();
  await database?.destroy();
  await admin.deleteTopics({ topics: [topic, deadLetterTopic] }).catch(() => {});
  await admin.disconnect();
});

async function groupMembers(): Promise<{ state: string; members: string[] }> {
  const { groups } = await admin.describeGroups([group]);
  return { state: groups[0]?.state ?? "", members: (groups[0]?.members ?? []).map((member) => member.memberId) };
}

describe("fault: PostgreSQL down while the API and the worker run", () => {
  it("keeps answering 202, stores nothing and commits nothing meanwhile, then drains the backlog exactly once", async () => {
    const before = await postMany(server, BEFORE);
    expect(before.filter((result) => result.status !== 202)).toEqual([]);
    await eventually(
      "rows before the outage",
      () => storedCount(database.pool, topic),
      (n) => n === BEFORE,
    );
    await eventually("their offsets committed", () => committedThroughStored(admin, database.pool, group, topic), Boolean);
    const committedBefore = await committedByPartition(admin, group, topic);
    const membersBefore = await groupMembers();
    expect(membersBefore.members).toHaveLength(1);

    const downAt = performance.now();
    await database.server.stop();
    const during = await postMany(server, DURING);
    // Kafka holds the work: every post is still accepted.
    expect(during.filter((result) => result.status !== 202)).toEqual([]);
    await eventually(
      "the worker holding its batch (outage)",
      async () => worker.logs().some((line) => line.msg?.startsWith("dependency outage:")),
      Boolean,
      30_000,
    );
    await sleep(Math.max(0, OUTAGE_MS - (performance.now() - downAt)));

    // Mid-outage: nothing committed past the stored rows, the worker alive and still the group's member.
    expect(worker.child.exitCode).toBeNull();
    expect(await committedByPartition(admin, group, topic)).toEqual(committedBefore);
    expect(await groupMembers()).toEqual({ state: "Stable", members: membersBefore.members });

    await database.server.start();
    const upAt = performance.now();
    const total = BEFORE + DURING;
    await eventually(
      "the backlog stored",
      () => storedCount(database.pool, topic),
      (n) => n >= total,
      60_000,
    );
    const recoverMs = performance.now() - upAt;
    await eventually("the backlog committed", () => committedThroughStored(admin, database.pool, group, topic), Boolean);
    expect(await groupMembers()).toEqual({ state: "Stable", members: membersBefore.members });
    expect(worker.logs().some((line) => line.msg?.startsWith("dependency outage over"))).toBe(true);

    const accepted = acceptedIds([...before, ...during]);
    expect(accepted).toHaveLength(total);
    const counts = await storedCounts(database.pool, topic);
    const { stored, lost, duplicated } = tally(accepted, counts);
    const deadLettered = await deadLetterCount(database.pool, topic);
    const deadLetterMessages = (await readAllMessages(kafka, deadLetterTopic).catch(() => [])).length;
    recordFaultRow({
      scenario: "database down 10 s (API + worker)",
      accepted: accepted.length,
      stored,
      lost,
      duplicated,
      deadLettered: deadLettered + deadLetterMessages,
      redelivered: worker.redelivered(),
      recoverMs,
      note: `${DURING} posts during the outage all 202; worker kept its group membership`,
    });
    expect({ lost, duplicated, deadLettered, deadLetterMessages }).toEqual({
      lost: 0,
      duplicated: 0,
      deadLettered: 0,
      deadLetterMessages: 0,
    });
    expect(stored).toBe(total);
    expect(await stopWorker(worker)).toBe(0);
  });
});
