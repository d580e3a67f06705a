import type { Consumer, EachBatchPayload, Kafka } from "kafkajs";
import type { Batcher } from "./batcher.js";
import { commitPastControlRecords } from "./control-records.js";
import type { TriggerLogger } from "./logger.js";
import type { PollerDefinition } from "./poller-options.js";

/** How long after a crash KafkaJS does not recover from itself a new consumer is started. */
export const CRASH_RESTART_DELAY_MS = 1_000;

/**
 * Commit failures that mean the member's cached group coordinator moved (its broker restarted and the
 * group's coordinator is elsewhere, or that broker is missing from the metadata), which KafkaJS does not
 * recover from while the member keeps consuming. Not connection errors or timeouts: with the broker down,
 * a new member could not join either, and KafkaJS's own heartbeat notices a dead coordinator.
 */
export function coordinatorLost(error: unknown): boolean {
  const { type, name } = error as { type?: string; name?: string };
  return type === "NOT_COORDINATOR_FOR_GROUP" || type === "COORDINATOR_NOT_AVAILABLE" || name === "KafkaJSBrokerNotFound";
}

export interface MembershipOptions {
  kafka: Kafka;
  definition: PollerDefinition;
  log: TriggerLogger;
  batcher: Batcher;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  partitionsConsumedConcurrently: number;
  isStopping: () => boolean;
  /** One fetched batch of `consumer` (the consumer it came from, so a failed commit names it). */
  onBatch: (payload: EachBatchPayload, consumer: Consumer) => Promise<void>;
  /** False while records of the partition wait uncommitted in a batching window (no commit past control records then). */
  settled: (topic: string, partition: number) => boolean;
}

/**
 * The poller's membership of its consumer group: creates the KafkaJS consumer and joins, starts a new
 * member when the old one crashed for good or lost its coordinator, and leaves at stop. A consumer it gave
 * up on is "retired": KafkaJS restarts a crashed consumer by itself after its own disconnect, and when ours
 * ran at the same moment the old consumer joined the group again behind the poller's back; a retired
 * consumer is not restarted, its batches are not delivered, and if it joins all the same it is disconnected.
 */
export class GroupMembership {
  private readonly options: MembershipOptions;
  private readonly retired = new WeakSet<Consumer>();
  private current: Consumer | undefined;
  private joined: Promise<void> | undefined;
  /** AT_TIMESTAMP: where partitions without a committed offset start, until their first batch. */
  private startOffsets = new Map<number, bigint>();

  constructor(options: MembershipOptions) {
    this.options = options;
  }

  get consumer(): Consumer | undefined {
    return this.current;
  }

  isRetired(consumer: Consumer): boolean {
    return this.retired.has(consumer);
  }

  /** Resolves when the current member has joined the group and got its partitions. */
  whenJoined(): Promise<void> {
    return this.joined ?? Promise.reject(new Error("poller not started"));
  }

  /** AT_TIMESTAMP: the offset `partition` starts at, once (its first batch); undefined otherwise. */
  takeStartOffset(partition: number): bigint | undefined {
    const start = this.startOffsets.get(partition);
    this.startOffsets.delete(partition);
    return start;
  }

  /** Creates a consumer, joins and starts consuming; resolves once consumption started (not joined). */
  async connect(): Promise<void> {
    const { kafka, definition, log, batcher } = this.options;
    const { topic, consumerGroupId, startingPosition, maximumBatchingWindowMs } = definition;
    const consumer = kafka.consumer({
      groupId: consumerGroupId,
      allowAutoTopicCreation: false,
      sessionTimeout: this.options.sessionTimeoutMs,
      heartbeatInterval: this.options.heartbeatIntervalMs,
      // An idle fetch returns after this long, so stop() never waits on a long poll.
      maxWaitTimeInMs: Math.min(Math.max(maximumBatchingWindowMs, 100), 1_000),
      // Asked after a crash, once KafkaJS disconnected the consumer: never bring back one we gave up on.
      retry: { restartOnFailure: async () => !this.options.isStopping() && !this.retired.has(consumer) },
    });
    this.current = consumer;
    this.joined = new Promise((resolve) => {
      consumer.on(consumer.events.GROUP_JOIN, () => {
        if (this.retired.has(consumer)) void consumer.disconnect().catch(() => {});
        else resolve();
      });
    });
    // A rebalance: chunks still waiting in a batching window are given back (never invoked, never committed;
    // the partition's next owner reads them again), so no invocation starts on a revoked partition.
    consumer.on(consumer.events.REBALANCING, () => {
      if (this.retired.has(consumer)) return;
      const withdrawn = batcher.withdraw();
      if (withdrawn) log.info({ chunks: withdrawn }, "rebalancing: waiting chunks given back uncommitted");
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      log.error({ err: payload.error, restart: payload.restart }, "consumer crashed");
      // KafkaJS restarts itself only after retriable errors. A non-retriable one (e.g. no group coordinator
      // yet on a freshly started broker) leaves it disconnected for good: start a new consumer instead.
      if (!payload.restart) this.replace(consumer, CRASH_RESTART_DELAY_MS, "consumer crashed for good: starting a new one");
    });
    // So a caught-up partition whose last write was a Kafka transaction reads lag 0, not 1.
    commitPastControlRecords(consumer, log, this.options.settled);
    await consumer.connect();
    if (startingPosition === "AT_TIMESTAMP") this.startOffsets = await this.offsetsAtTimestamp();
    // Like a new event source mapping: the position applies only while the group has no committed offset.
    // AT_TIMESTAMP reads such partitions from the start and seeks to the timestamp's offset on their first batch.
    await consumer.subscribe({ topics: [topic], fromBeginning: startingPosition !== "LATEST" });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently,
      eachBatch: (payload) => this.options.onBatch(payload, consumer),
    });
  }

  /**
   * AT_TIMESTAMP: for each partition the group has no committed offset for, the offset of the first record
   * whose timestamp is at or after startingPositionTimestamp (the end offset when there is none yet).
   */
  private async offsetsAtTimestamp(): Promise<Map<number, bigint>> {
    const { topic, consumerGroupId, startingPositionTimestamp = 0 } = this.options.definition;
    const admin = this.options.kafka.admin();
    await admin.connect();
    try {
      const [committed] = await admin.fetchOffsets({ groupId: consumerGroupId, topics: [topic] });
      const uncommitted = new Set(
        (committed?.partitions ?? []).filter(({ offset }) => Number(offset) < 0).map(({ partition }) => partition),
      );
      const offsets = await admin.fetchTopicOffsetsByTimestamp(topic, Math.round(startingPositionTimestamp * 1000));
      const start = new Map<number, bigint>();
      for (const { partition, offset } of offsets) if (uncommitted.has(partition)) start.set(partition, BigInt(offset));
      this.options.log.info({ startingPositionTimestamp, offsets: Object.fromEntries(start) }, "AT_TIMESTAMP: start offsets");
      return start;
    } finally {
      await admin.disconnect();
    }
  }

  /**
   * Retires the consumer `stale` and, after `delayMs`, starts a new member of the group in its place,
   * retrying until one runs or the poller stops. Once per consumer: a second report of the same trouble (a
   * crash and a refused commit at once) starts nothing more. What `stale` delivered and did not commit comes
   * again (at least once).
   */
  replace(stale: Consumer, delayMs: number, why: string): void {
    if (this.options.isStopping() || this.current !== stale || this.retired.has(stale)) return;
    this.retired.add(stale);
    this.options.log.warn(why);
    setTimeout(() => {
      void (async () => {
        // Chunks not yet in an event are the stale member's: given back, never committed.
        this.options.batcher.withdraw();
        // Not awaited by the caller: disconnect() waits for the running eachBatch calls, one of which may be the caller.
        await stale.disconnect().catch(() => {});
        if (!this.options.isStopping()) await this.connect();
      })().catch((error: unknown) => {
        this.options.log.error({ err: error }, "starting a new consumer failed; trying again");
        if (this.current) this.replace(this.current, CRASH_RESTART_DELAY_MS, "retrying with another new consumer");
      });
    }, delayMs);
  }

  /** Leaves the group: the current consumer is retired and disconnected (after its running eachBatch calls). */
  async leave(): Promise<void> {
    if (this.current) this.retired.add(this.current);
    await this.current?.disconnect();
  }
}
