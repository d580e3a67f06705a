import { setTimeout as sleep } from "node:timers/promises";
import { type Admin, AssignerProtocol } from "kafkajs";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureTopics } from "../../lib/kafka/admin.js";
import { simulateLoad } from "../support/fault-cluster.js";
import {
  committedByPartition,
  committedThroughStored,
  eventually,
  spawnWorker,
  stopWorker,
  storedCounts,
  type WorkerProcess,
} from "../support/fault-infra.js";
import { recordFaultRow, tally } from "../support/fault-results.js";
import { testKafka, uniqueName } from "../support/kafka.js";
import { type OfflineServer, startOffline } from "../support/offline.js";

/**
 * Scale-out: W workers (`npm run worker`) in one consumer group over K = 6 partitions while simulate's
 * engine posts at a steady rate: one worker, a second and a third join (rebalances), one is SIGKILLed (its
 * partitions move after its session timeout). Throughout, the group's committed offsets are sampled: no
 * offset may be committed past a record that was not yet stored.
 */
const PARTITIONS = 6;
const SESSION_TIMEOUT_S = 6;
const topic = uniqueName("test.scale-out");
const group = uniqueName("test.scale-out-group");
const env = { TRANSACTIONS_TOPIC: topic, DEAD_LETTER_TOPIC: `${topic}.dead-letter` };
const admin: Admin = testKafka().admin();
// global-setup points DATABASE_URL at the migrated test database.
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
let server: OfflineServer;
const workers: WorkerProcess[] = [];

interface CommitSample {
  /** Epoch ms after the committed offsets were read: whatever they cover was stored before. */
  at: number;
  committed: Record<number, number>;
}

beforeAll(async () => {
  await admin.connect();
  expect(await ensureTopics([topic, `${topic}.dead-letter`], PARTITIONS)).toEqual([topic, `${topic}.dead-letter`]);
  server = await startOffline({ env: { ...env, OFFLINE_KAFKA_ENABLED: "false" } });
});

afterAll(async () => {
  for (const worker of workers) worker.kill("SIGKILL");
  await server?.stop();
  await admin.deleteTopics({ topics: [topic, `${topic}.dead-letter`] }).catch(() => {});
  await admin.disconnect();
  await pool.end();
});

function addWorker(): WorkerProcess {
  const worker = spawnWorker({ topic, group, env, sessionTimeoutSeconds: SESSION_TIMEOUT_S });
  workers.push(worker);
  return worker;
}

/** Partitions per member of the group, once it is Stable with `members` members covering all K partitions. */
async function stableSplit(members: number, timeoutMs = 60_000): Promise<number[]> {
  const split = await eventually(
    `the group stable with ${members} member(s) over ${PARTITIONS} partitions`,
    async () => {
      const [description] = (await admin.describeGroups([group])).groups;
      if (description?.state !== "Stable") return [];
      return description.members.map(
        (member) => AssignerProtocol.MemberAssignment.decode(member.memberAssignment)?.assignment[topic]?.length ?? 0,
      );
    },
    (counts) => counts.length === members && counts.reduce((sum, n) => sum + n, 0) === PARTITIONS,
    timeoutMs,
    100,
  );
  return split.sort((a, b) => b - a);
}

describe("fault: scale-out, W = 1..3 workers over 6 partitions under load", () => {
  it("workers join and one is SIGKILLed while simulate posts: every partition keeps an owner, nothing lost, doubled, or committed before it was stored", async () => {
    const load = simulateLoad(server, { rate: 150, concurrency: 8 });
    const samples: CommitSample[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const committed = await committedByPartition(admin, group, topic).catch(() => undefined);
        if (committed) samples.push({ at: Date.now(), committed });
        await sleep(200);
      }
    })();
    const steps: string[] = [];
    const rebalanceMs: number[] = [];
    let accepted: string[] = [];
    try {
      const first = addWorker();
      steps.push(`W=1 ${(await stableSplit(1)).join("+")}`);
      await sleep(3_000);
      for (const members of [2, 3]) {
        const joinedAt = performance.now();
        addWorker();
        steps.push(`W=${members} ${(await stableSplit(members)).join("+")}`);
        rebalanceMs.push(performance.now() - joinedAt);
        await sleep(3_000);
      }
      // A crash: no LeaveGroup; its partitions move once the coordinator misses its heartbeats.
      const killedAt = performance.now();
      first.kill("SIGKILL");
      await first.exited;
      steps.push(`SIGKILL → W=2 ${(await stableSplit(2, 30_000)).join("+")}`);
      rebalanceMs.push(performance.now() - killedAt);
      await sleep(3_000);
    } finally {
      accepted = (await load.stop()).accepted;
    }
    const survivors = workers.filter((worker) => worker.child.exitCode === null && worker.child.signalCode === null);
    try {
      await eventually(
        "every accepted transaction stored",
        async () => tally(accepted, await storedCounts(pool, topic)).stored,
        (stored) => stored === accepted.length,
        90_000,
        250,
      );
      await eventually("offsets committed to the end", () => committedThroughStored(admin, pool, group, topic), Boolean, 60_000);
    } finally {
      sampling = false;
      await sampler;
    }
    for (const worker of survivors) expect(await stopWorker(worker)).toBe(0);

    // Commit nothing unstored: for every sample, each record below a committed offset was stored by then.
    const { rows } = await pool.query<{ partition: number; offset: string; persisted: Date }>(
      "select kafka_partition as partition, kafka_offset::text as offset, persisted_at as persisted from transactions where kafka_topic = $1",
      [topic],
    );
    const committedEarly = samples.flatMap(({ at, committed }) =>
      rows
        .filter((row) => Number(row.offset) < (committed[row.partition] ?? 0) && row.persisted.getTime() > at)
        .map((row) => ({ at, ...row })),
    );
    const { stored, lost, duplicated } = tally(accepted, await storedCounts(pool, topic));
    const redelivered = workers.reduce((sum, worker) => sum + worker.redelivered(), 0);
    const perPartition = new Set(rows.map((row) => row.partition)).size;
    recordFaultRow({
      scenario: `scale-out: 1→2→3 workers over ${PARTITIONS} partitions, one SIGKILLed`,
      accepted: accepted.length,
      stored,
      lost,
      duplicated,
      deadLettered: 0,
      redelivered,
      recoverMs: rebalanceMs.at(-1) ?? null,
      note:
        `partitions per worker ${steps.join(", ")}; joins rebalanced in ${rebalanceMs
          .slice(0, 2)
          .map((ms) => `${(ms / 1000).toFixed(1)} s`)
          .join(" / ")}, the kill in ${((rebalanceMs.at(-1) ?? 0) / 1000).toFixed(1)} s (session ${SESSION_TIMEOUT_S} s); ` +
        `${samples.length} commit samples, ${committedEarly.length} offsets committed before their record was stored`,
    });
    expect({ lost, duplicated, committedEarly: committedEarly.length }).toEqual({ lost: 0, duplicated: 0, committedEarly: 0 });
    expect(stored).toBe(accepted.length);
    expect(perPartition).toBe(PARTITIONS);
    expect(samples.length).toBeGreaterThan(20);
    expect(steps).toEqual(["W=1 6", "W=2 3+3", "W=3 2+2+2", "SIGKILL → W=2 3+3"]);
  }, 240_000);
});
