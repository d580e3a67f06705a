import { randomUUID } from "node:crypto";
import type { KafkaMessage, Message } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProduceQueueFullError, TransactionLogUnavailableError } from "../../lib/errors.js";
import { problemOf } from "../../lib/http/problem.js";
import { ensureTopics } from "../../lib/kafka/admin.js";
import { CoalescingProducer } from "../../lib/kafka/coalescing-producer.js";
import { disconnectProducer, produce, producerStats } from "../../lib/kafka/producer.js";
import { readAllMessages, testKafka, uniqueName } from "../support/kafka.js";

/**
 * lib/kafka/producer.ts against the real broker: each coalesced send is one Kafka transaction, so a send
 * the broker refuses part-way leaves nothing a read_committed consumer (the app's, KafkaJS's default)
 * can see, while a read_uncommitted reader shows the refused send's other partitions were written and
 * then aborted.
 */
const kafka = testKafka();
const topic = uniqueName("test.txproduce");
const admin = kafka.admin();
const extraProducers: CoalescingProducer[] = [];

/** The broker's default message.max.bytes is 1,048,588: one message of 1.5 MB makes its partition's batch too large. */
const TOO_LARGE_BYTES = 1_500_000;

const message = (label: string, partition?: number, value: string | Buffer = label): Message => ({
  key: label,
  value,
  headers: { label },
  ...(partition === undefined ? {} : { partition }),
});
const labelOf = (read: KafkaMessage) => read.headers?.label?.toString() ?? "";
const labels = (read: KafkaMessage[]) => read.map(labelOf);

const committed = () => readAllMessages(kafka, topic);
const uncommitted = () => readAllMessages(kafka, topic, 30_000, { readUncommitted: true });

function transactional(options: Partial<ConstructorParameters<typeof CoalescingProducer>[0]> = {}): CoalescingProducer {
  const producer = new CoalescingProducer({ transactional: true, maxPendingMessages: 10_000, ...options });
  extraProducers.push(producer);
  return producer;
}

beforeAll(async () => {
  await admin.connect();
  await ensureTopics([topic]); // 3 partitions
});

afterAll(async () => {
  await Promise.all(extraProducers.map((producer) => producer.disconnect()));
  await disconnectProducer();
  await admin.deleteTopics({ topics: [topic] }).catch(() => {});
  await admin.disconnect();
});

describe("a coalesced send is one Kafka transaction", () => {
  it("a bulk the broker refuses part-way (one message too large) rejects, and read_committed sees none of it", async () => {
    const run = randomUUID().slice(0, 8);
    const refused = [0, 1, 2].flatMap((partition) =>
      [0, 1, 2].map((i) => message(`refused-${run}-p${partition}-${i}`, partition)),
    );
    refused.push(message(`refused-${run}-p2-large`, 2, Buffer.alloc(TOO_LARGE_BYTES, "x")));
    const failedBefore = producerStats().failed;

    await expect(produce(topic, refused)).rejects.toBeInstanceOf(TransactionLogUnavailableError);
    expect(producerStats().failed).toBe(failedBefore + 1);

    // The producer recovers: the next send (a new producer, same transactionalId) commits.
    const after = [0, 1, 2].map((partition) => message(`after-${run}-p${partition}`, partition));
    await produce(topic, after);

    const visible = labels(await committed());
    expect(visible).toEqual(expect.arrayContaining(after.map((one) => one.headers?.label as string)));
    expect(visible.filter((label) => label.startsWith(`refused-${run}`))).toEqual([]);

    // Proof that the abort hid them: partitions 0 and 1 took their batches, which an uncommitted read shows.
    const written = labels(await uncommitted()).filter((label) => label.startsWith(`refused-${run}`));
    expect(written.sort()).toEqual(
      refused
        .filter((one) => one.partition !== 2)
        .map((one) => one.headers?.label as string)
        .sort(),
    );
  });

  it("a normal bulk (300 keys, so every partition) is visible whole, once", async () => {
    const run = randomUUID().slice(0, 8);
    const bulk = Array.from({ length: 300 }, (_, i) => message(`bulk-${run}-${i}`));
    await produce(topic, bulk);
    const read = await committed();
    const ours = labels(read).filter((label) => label.startsWith(`bulk-${run}-`));
    expect(ours.sort()).toEqual(bulk.map((one) => one.headers?.label as string).sort());
  });

  it("concurrent callers share transactions and each gets its ack once it committed", async () => {
    const run = randomUUID().slice(0, 8);
    const callers = Array.from({ length: 50 }, (_, caller) =>
      Array.from({ length: 1 + (caller % 3) }, (_, i) => message(`caller-${run}-${caller}-${i}`)),
    );
    const before = producerStats().committed;
    await Promise.all(callers.map((messages) => produce(topic, messages)));
    // The first caller's send goes alone; the 49 queued meanwhile go together in the next.
    expect(producerStats().committed - before).toBeLessThanOrEqual(2);
    const visible = new Set(labels(await committed()));
    for (const one of callers.flat()) expect(visible.has(one.headers?.label as string)).toBe(true);
  });

  it("a caller that times out before the commit gets 503 and its transaction is aborted; the others of that send are acked", async () => {
    const run = randomUUID().slice(0, 8);
    const late = message(`late-${run}`);
    let lateSettled: Promise<unknown> = Promise.resolve();
    const producer = transactional({
      // Hold the send holding `late` until its caller gave up: the commit decision comes after it.
      beforeCommit: async (sent) => {
        if (sent.some(({ messages }) => messages.includes(late))) await lateSettled;
      },
    });
    await producer.produce(topic, [message(`warm-${run}`)]);

    const first = producer.produce(topic, [message(`first-${run}`)]); // in flight: the next two queue behind it
    // Budgets: `late`'s outlasts the wait behind `first` even on a busy machine; `other`'s outlasts `late`'s.
    const lateCall = producer.produce(topic, [late], 2_500);
    lateSettled = lateCall.catch(() => {});
    const other = producer.produce(topic, [message(`other-${run}`)], 15_000);

    await expect(lateCall).rejects.toBeInstanceOf(TransactionLogUnavailableError);
    await expect(first).resolves.toBeUndefined();
    await expect(other).resolves.toBeUndefined();
    expect(producer.stats.abortedAbandoned).toBe(1);

    const visible = labels(await committed());
    expect(visible).toEqual(expect.arrayContaining([`first-${run}`, `other-${run}`]));
    expect(visible).not.toContain(`late-${run}`);
    // It was sent (in the aborted transaction), and `other` went again in a new one: twice uncommitted, once committed.
    const written = labels(await uncommitted());
    expect(written.filter((label) => label === `late-${run}`)).toHaveLength(1);
    expect(written.filter((label) => label === `other-${run}`)).toHaveLength(2);
    expect(visible.filter((label) => label === `other-${run}`)).toHaveLength(1);
  });
});

describe("the produce queue is bounded", () => {
  it("refuses at once with ProduceQueueFullError past maxPendingMessages, admits what fits", async () => {
    const run = randomUUID().slice(0, 8);
    const producer = transactional({ maxPendingMessages: 10 });
    const batch = (name: string, count: number) => Array.from({ length: count }, (_, i) => message(`${name}-${run}-${i}`));

    const inFlight = producer.produce(topic, batch("a", 5)); // taken at once: not waiting
    const queued = producer.produce(topic, batch("b", 6)); // waits: 6 of 10
    expect(producer.pendingMessages).toBe(6);
    const refused = producer.produce(topic, batch("c", 5)); // 11 > 10
    const fits = producer.produce(topic, batch("d", 4)); // 10
    await expect(refused).rejects.toBeInstanceOf(ProduceQueueFullError);
    expect(producer.pendingMessages).toBe(10);
    await Promise.all([inFlight, queued, fits]);
    expect(producer.stats.refused).toBe(1);

    // A request larger than the bound is admitted when nothing waits, so it is never refused for good.
    await producer.produce(topic, batch("e", 25));

    const visible = labels(await committed()).filter((label) => label.endsWith(`-${run}`) || label.includes(`-${run}-`));
    expect(visible.filter((label) => label.startsWith("c-"))).toEqual([]);
    expect(visible.filter((label) => /^[abde]-/.test(label))).toHaveLength(5 + 6 + 4 + 25);
  });

  it("answers 503 with Retry-After (lib/http/problem.ts)", () => {
    const spec = problemOf(new ProduceQueueFullError(10, 1));
    expect(spec).toMatchObject({ status: 503, headers: { "Retry-After": "1" } });
    expect(spec.message).not.toMatch(/10/); // no internals
  });
});
