import { setTimeout as sleep } from "node:timers/promises";
import type { MSKEvent } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { KafkaPoller, type PollerDefinition } from "../../src/index.js";
import { BROKERS, committedByPartition, eventually, uniqueName, useKafkaFixture } from "../support.js";

/**
 * Lambda's scaling for Kafka, emulated by the local trigger: one invocation per partition at a time, the
 * partitions of one poller invoked concurrently, each partition committed after its own invocation, order
 * kept within a partition, also while a second poller joins and the partitions move. The function here only
 * records what it was given (no database): the subject is the trigger.
 */
const { kafka, admin, producer, newTopic } = useKafkaFixture("test.trigger-concurrency");

async function produce(topic: string, partitions: number, perPartition: number): Promise<void> {
  await producer.send({
    topic,
    messages: Array.from({ length: partitions }, (_, partition) =>
      Array.from({ length: perPartition }, (_, i) => ({ partition, key: `k${partition}`, value: `${partition}:${i}` })),
    ).flat(),
  });
}

function definition(topic: string, overrides: Partial<PollerDefinition> = {}): PollerDefinition {
  return {
    functionKey: "consume",
    topic,
    batchSize: 10,
    maximumBatchingWindowMs: 0,
    startingPosition: "TRIM_HORIZON",
    consumerGroupId: uniqueName("test.trigger-concurrency-group"),
    eventSourceArn: "arn:aws:kafka:local:000000000000:cluster/offline-kafka/consume",
    ...overrides,
  };
}

/** One invocation as the function saw it: which poller, when, and the offsets of each partition. */
interface Invocation {
  poller: string;
  startedAt: number;
  endedAt: number;
  parts: { partition: number; offsets: number[] }[];
}

function partsOf(event: MSKEvent): Invocation["parts"] {
  return Object.values(event.records).map((records) => ({
    partition: records[0]?.partition as number,
    offsets: records.map((record) => record.offset),
  }));
}

/** A function that records its invocations and takes `ms` (or what `during` takes) for each. */
function recorder(poller: string, log: Invocation[], ms: number, during?: (parts: Invocation["parts"]) => Promise<void>) {
  return async (event: MSKEvent) => {
    const invocation: Invocation = { poller, startedAt: performance.now(), endedAt: Number.NaN, parts: partsOf(event) };
    log.push(invocation);
    await (during ? during(invocation.parts) : sleep(ms));
    invocation.endedAt = performance.now();
    return { ok: true };
  };
}

const overlap = (a: Invocation, b: Invocation) => a.startedAt < b.endedAt && b.startedAt < a.endedAt;

/** The invocations holding `partition`, in the order they started. */
const ofPartition = (log: Invocation[], partition: number) =>
  log
    .filter((one) => one.parts.some((part) => part.partition === partition))
    .sort((a, b) => a.startedAt - b.startedAt)
    .map((one) => ({ ...one, offsets: one.parts.find((part) => part.partition === partition)?.offsets ?? [] }));

/**
 * Per partition: no two invocations at once, offsets ascending and consecutive within one, and never ahead
 * of what was delivered before (a redelivery goes back to a committed point; nothing is skipped).
 */
function expectOrderedPerPartition(log: Invocation[], partitions: number, perPartition: number) {
  for (let partition = 0; partition < partitions; partition += 1) {
    const invocations = ofPartition(log, partition);
    let highest = -1;
    const seen = new Set<number>();
    for (const [index, invocation] of invocations.entries()) {
      const previous = invocations[index - 1];
      if (previous)
        expect(invocation.startedAt, `partition ${partition}: two invocations at once`).toBeGreaterThanOrEqual(previous.endedAt);
      const first = invocation.offsets[0] as number;
      expect(invocation.offsets).toEqual(invocation.offsets.map((_, i) => first + i));
      expect(first, `partition ${partition}: skipped ahead`).toBeLessThanOrEqual(highest + 1);
      highest = Math.max(highest, ...invocation.offsets);
      for (const offset of invocation.offsets) seen.add(offset);
    }
    expect(seen.size, `partition ${partition}: every record delivered`).toBe(perPartition);
  }
}

describe("local Kafka trigger: concurrency like Lambda's", () => {
  it("invokes partitions concurrently, one invocation per partition at a time, and commits each partition after its own", async () => {
    const topic = await newTopic(3);
    await produce(topic, 3, 30);
    const def = definition(topic);
    const log: Invocation[] = [];
    let committedWhileFirstRan: Record<number, number> | undefined;
    const poller = new KafkaPoller({
      kafka,
      bootstrapServers: BROKERS,
      definition: def,
      maxConcurrentInvocations: 5,
      // Partition 0's first invocation waits until partition 1's first one is committed: only possible when
      // the two run at the same time and each partition is committed on its own.
      invoke: recorder("A", log, 30, async (parts) => {
        if (parts.some((part) => part.partition === 0 && part.offsets[0] === 0)) {
          committedWhileFirstRan = await eventually(
            "partition 1 committed while partition 0's first invocation runs",
            () => committedByPartition(admin, def.consumerGroupId, topic),
            (offsets) => (offsets[1] ?? 0) >= 10,
            15_000,
            50,
          );
        } else {
          await sleep(30);
        }
      }),
    });
    await poller.start();
    try {
      await eventually(
        "every partition committed to its end",
        () => committedByPartition(admin, def.consumerGroupId, topic),
        (offsets) => offsets[0] === 30 && offsets[1] === 30 && offsets[2] === 30,
      );
    } finally {
      await poller.stop();
    }
    expect(committedWhileFirstRan?.[0]).toBeUndefined();
    expect(committedWhileFirstRan?.[1]).toBeGreaterThanOrEqual(10);
    const concurrent = log.some((a) =>
      log.some(
        (b) => a !== b && overlap(a, b) && a.parts.every((part) => !b.parts.some((other) => other.partition === part.partition)),
      ),
    );
    expect(concurrent, "two partitions' invocations overlapping").toBe(true);
    expectOrderedPerPartition(log, 3, 30);
    expect(poller.stats.records).toBe(90);
  });

  it("keeps each partition in order and one invocation at a time while a second poller joins mid-stream", async () => {
    const partitions = 4;
    const topic = await newTopic(partitions);
    const def = definition(topic, { batchSize: 5 });
    const log: Invocation[] = [];
    const completed = new Map<number, Set<number>>();
    const complete = (invocation: Invocation) => {
      for (const part of invocation.parts) {
        const set = completed.get(part.partition) ?? new Set<number>();
        for (const offset of part.offsets) set.add(offset);
        completed.set(part.partition, set);
      }
    };
    const invoke = (name: string) => {
      const record = recorder(name, log, 15);
      return async (event: MSKEvent) => {
        const result = await record(event);
        complete(log.findLast((one) => one.poller === name && !Number.isNaN(one.endedAt)) as Invocation);
        return result;
      };
    };
    const first = new KafkaPoller({ definition: def, invoke: invoke("A"), sessionTimeoutMs: 10_000 });
    const second = new KafkaPoller({ definition: def, invoke: invoke("B"), sessionTimeoutMs: 10_000 });

    // Records keep arriving on every partition while the group rebalances.
    let producing = true;
    let perPartition = 0;
    const feeding = (async () => {
      while (producing && perPartition < 400) {
        await produce(topic, partitions, 10);
        perPartition += 10;
        await sleep(40);
      }
    })();
    // Never a commit past a record the function has not finished: sampled throughout.
    const violations: string[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const offsets = await committedByPartition(admin, def.consumerGroupId, topic);
        for (const [partition, next] of Object.entries(offsets)) {
          const done = completed.get(Number(partition)) ?? new Set<number>();
          for (let offset = 0; offset < next; offset += 1)
            if (!done.has(offset)) {
              violations.push(`partition ${partition} committed ${next} before offset ${offset} was processed`);
              break;
            }
        }
        await sleep(50);
      }
    })();

    await first.start();
    let joinedAt = 0;
    try {
      await eventually(
        "the first poller under way",
        async () => log.length,
        (n) => n >= 20,
      );
      joinedAt = performance.now();
      await second.start();
      await eventually(
        "the second poller took partitions",
        async () => log.filter((one) => one.poller === "B").length,
        (n) => n >= 5,
      );
      producing = false;
      await feeding;
      await eventually(
        "every partition committed to its end",
        () => committedByPartition(admin, def.consumerGroupId, topic),
        (offsets) => Array.from({ length: partitions }, (_, p) => offsets[p]).every((offset) => offset === perPartition),
      );
    } finally {
      producing = false;
      await feeding;
      await Promise.all([first.stop(), second.stop()]);
      sampling = false;
      await sampler;
    }
    expect(violations).toEqual([]);
    expectOrderedPerPartition(log, partitions, perPartition);
    // Both members received partitions after the join.
    expect(new Set(log.filter((one) => one.startedAt > joinedAt).map((one) => one.poller))).toEqual(new Set(["A", "B"]));
  }, 120_000);
});
