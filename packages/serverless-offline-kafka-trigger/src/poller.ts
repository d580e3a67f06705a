import type { Consumer, EachBatchPayload, Kafka } from "kafkajs";
import { Batcher } from "./batcher.js";
import { chunksOf, PendingCommits } from "./chunks.js";
import { throughTrailingControlRecords } from "./control-records.js";
import { DEFAULT_FAILURE_SETTINGS, effectiveRetryAttempts, type FailureSettings } from "./failure-handling.js";
import { Invocation } from "./invocation.js";
import { applyKafkaJsFixes } from "./kafkajs-fixes.js";
import { atLevel, createJsonLogger, type TriggerLogger } from "./logger.js";
import { coordinatorLost, GroupMembership } from "./membership.js";
import { type EmitMetric, metricEmitter } from "./metrics.js";
import { OnFailureDestination } from "./on-failure-destination.js";
import {
  createKafka,
  DEFAULTS,
  emptyStats,
  type PollerDefinition,
  type PollerOptions,
  type PollerStats,
} from "./poller-options.js";
import { DEFAULT_RETRY, errorMessages, sleepBackoff } from "./retry.js";

/** Invocations one poller runs at once, each on partitions no other holds: a provisioned-mode poller's "up to 5". */
export const DEFAULT_MAX_CONCURRENT_INVOCATIONS = DEFAULTS.maxConcurrentInvocations;

/**
 * Emulates Lambda's Kafka event source mapping with a KafkaJS consumer group (membership.ts):
 * - KafkaJS hands over each partition's fetched records (eachBatch); the Batcher holds them until batchSize
 *   records are there or the oldest has waited maximumBatchingWindow, then ONE AWS-shaped event (records keyed
 *   "topic-partition", possibly several partitions) is invoked (invocation.ts).
 * - Offsets are committed only after the function returned. A failed event is retried, bisected or given up on
 *   as the error-handling settings say; meanwhile its partitions' eachBatch calls block and keep heart-beating,
 *   so the group keeps the partitions.
 * - At most one invocation in flight per partition, partitions invoked concurrently up to
 *   maxConcurrentInvocations, each partition committed right after its own invocation succeeded.
 * - A rebalance: the chunk in flight finishes and its commit is attempted (refused once the generation moved
 *   on: the next owner redelivers it); no further chunk of that fetch is submitted.
 * - stop(): the batch in flight finishes and is committed, nothing new starts, the consumer leaves.
 */
export class KafkaPoller {
  readonly stats: PollerStats = emptyStats();
  readonly definition: PollerDefinition;
  private readonly kafka: Kafka;
  private readonly bootstrapServers: string[];
  private readonly failure: FailureSettings;
  private readonly destination: OnFailureDestination | undefined;
  private readonly functionTimeoutMs: number;
  private readonly maxConcurrentInvocations: number;
  private readonly fixKafkaJs: boolean;
  private readonly heartbeatIntervalMs: number;
  private readonly batcher: Batcher;
  private readonly membership: GroupMembership;
  private readonly invocation: Invocation;
  private readonly emit: EmitMetric;
  private readonly log: TriggerLogger;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private readonly stopController = new AbortController();
  private readonly pendingCommits = new PendingCommits();

  constructor(options: PollerOptions) {
    this.definition = options.definition;
    this.bootstrapServers = options.bootstrapServers ?? DEFAULTS.bootstrapServers;
    this.kafka = options.kafka ?? createKafka(this.bootstrapServers);
    const {
      maximumRetryAttempts,
      bisectBatchOnFunctionError,
      onFailureTopic,
      maximumRecordAgeInSeconds,
      reportBatchItemFailures,
    } = { ...DEFAULT_FAILURE_SETTINGS, ...this.definition };
    this.failure = {
      maximumRetryAttempts,
      bisectBatchOnFunctionError,
      onFailureTopic,
      maximumRecordAgeInSeconds,
      reportBatchItemFailures,
    };
    this.destination = onFailureTopic
      ? new OnFailureDestination(this.kafka, onFailureTopic, {
          format: options.formatFailedRecord,
          ensureTopics: options.ensureTopics,
        })
      : undefined;
    this.functionTimeoutMs = options.functionTimeoutMs ?? DEFAULTS.functionTimeoutMs;
    this.maxConcurrentInvocations = options.maxConcurrentInvocations ?? DEFAULTS.maxConcurrentInvocations;
    this.fixKafkaJs = options.fixKafkaJs ?? true;
    const sessionTimeoutMs = options.sessionTimeoutMs ?? DEFAULTS.sessionTimeoutMs;
    // A tenth of the session timeout, as KafkaJS's defaults (30 s / 3 s).
    this.heartbeatIntervalMs = Math.max(100, Math.floor(sessionTimeoutMs / 10));
    const { functionKey, topic, consumerGroupId, batchSize, maximumBatchingWindowMs } = this.definition;
    this.log = atLevel(options.logger ?? createJsonLogger(), this.definition.systemLogLevel).child({
      component: "offline-kafka",
      function: functionKey,
      topic,
      groupId: consumerGroupId,
    });
    this.emit = metricEmitter(options.onMetric, { functionName: functionKey, topic, consumerGroupId }, this.definition.metrics);
    this.batcher = new Batcher({
      batchSize,
      maximumBatchingWindowMs,
      maxConcurrency: this.maxConcurrentInvocations,
      deliver: (parts) => this.invocation.deliver(parts),
    });
    this.membership = new GroupMembership({
      kafka: this.kafka,
      definition: this.definition,
      log: this.log,
      batcher: this.batcher,
      sessionTimeoutMs,
      heartbeatIntervalMs: this.heartbeatIntervalMs,
      partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? DEFAULTS.partitionsConsumedConcurrently,
      isStopping: () => this.stopping,
      onBatch: (payload, consumer) => this.onBatch(payload, consumer),
      settled: (topicName, partition) => !this.pendingCommits.waiting(`${topicName}-${partition}`),
    });
    this.invocation = new Invocation({
      definition: this.definition,
      invoke: options.invoke,
      bootstrapServers: this.bootstrapServers,
      functionTimeoutMs: this.functionTimeoutMs,
      failure: this.failure,
      destination: this.destination,
      retry: { ...DEFAULT_RETRY, ...options.retry },
      waitBeforeRetry: options.waitBeforeRetry ?? sleepBackoff,
      isOutage: options.isOutage ?? (() => false),
      describeError: options.describeError ?? errorMessages,
      outageMaxDelayMs: options.outageMaxDelayMs ?? DEFAULTS.outageMaxDelayMs,
      log: this.log,
      stats: this.stats,
      emit: this.emit,
      isStopping: () => this.stopping,
      signal: this.stopController.signal,
      consumer: () => this.membership.consumer,
    });
  }

  /** Connects, joins the group and starts consuming; resolves once consumption started (not joined). */
  async start(): Promise<void> {
    if (this.fixKafkaJs) applyKafkaJsFixes();
    this.batcher.start();
    await this.membership.connect();
    const { batchSize, maximumBatchingWindowMs, startingPosition, startingPositionTimestamp, filters, eventType } =
      this.definition;
    this.log.info(
      {
        eventSource: eventType === "kafka" ? "SelfManagedKafka" : "aws:kafka",
        ...{ batchSize, maximumBatchingWindowMs, startingPosition, startingPositionTimestamp, filters: filters?.length ?? 0 },
        ...this.failure,
        maximumRetryAttempts: effectiveRetryAttempts(this.failure),
        onFailureTopic: this.failure.onFailureTopic ? `kafka://${this.failure.onFailureTopic}` : "discard",
        ...{ functionTimeoutMs: this.functionTimeoutMs, maxConcurrentInvocations: this.maxConcurrentInvocations },
        brokers: this.bootstrapServers,
      },
      "polling",
    );
  }

  /** Resolves when this member has joined the group and got its partitions. */
  whenJoined(): Promise<void> {
    return this.membership.whenJoined();
  }

  /** Finishes and commits the batch in flight, starts nothing new, leaves the group and disconnects. Idempotent. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping = true;
      this.stopController.abort();
      this.batcher.flush();
      // Deliver what waits and what is in flight, and commit it, while the consumer is still a member.
      await this.batcher.close();
      await this.pendingCommits.settled();
      await this.membership.leave();
      await this.destination?.disconnect().catch(() => {});
      this.log.info(this.stats, "stopped");
    })();
    return this.stopped;
  }

  /** One fetched batch of `consumer` (the one it came from: a commit that fails names it, not its successor). */
  private async onBatch(payload: EachBatchPayload, consumer: Consumer) {
    const { batch, resolveOffset, heartbeat, isRunning, isStale } = payload;
    if (this.membership.isRetired(consumer)) return;
    const start = this.membership.takeStartOffset(batch.partition);
    if (start !== undefined && BigInt(batch.firstOffset() ?? "0") < start) {
      // AT_TIMESTAMP and nothing committed yet: begin at the first record at or after the timestamp.
      consumer.seek({ topic: batch.topic, partition: batch.partition, offset: start.toString() });
      return;
    }
    // While the batch waits the member must keep heart-beating or the group evicts it. heartbeat() sends at
    // most one per heartbeatInterval, so ticking at half of it keeps the gap below 1.5 intervals. A heartbeat
    // refused because the group is rebalancing: finish the chunk in flight, start no other.
    let rebalancing = false;
    const beat = () =>
      heartbeat().catch((error: unknown) => {
        if (isRebalancing(error)) rebalancing = true;
      });
    const keepAlive = setInterval(beat, Math.ceil(this.heartbeatIntervalMs / 2));
    try {
      const { chunks: fetched, filteredOut } = chunksOf(batch.messages, this.definition);
      this.emit("PolledEventCount", batch.messages.length);
      this.emit("FilteredOutEventCount", filteredOut);
      this.stats.filteredOut += filteredOut;
      const chunks = throughTrailingControlRecords(fetched, batch.lastOffset());
      for (const [index, { deliver, through }] of chunks.entries()) {
        if (index > 0) await beat();
        // Stopping, a rebalance, or the partition was revoked: leave the rest uncommitted for the next owner.
        if (this.stopping || rebalancing || !isRunning() || isStale()) return;
        const commit = () => this.commit(consumer, payload, through);
        if (deliver.length > 0) {
          const settled = this.batcher.submit(batch.topic, batch.partition, deliver);
          if (this.batcher.gathering(batch.topic, batch.partition)) {
            // A batching window is open with room for more of this partition: let KafkaJS fetch on (it does
            // only once this call returns) and commit when the event holding these records has succeeded.
            resolveOffset(through);
            this.pendingCommits.track(
              `${batch.topic}-${batch.partition}`,
              settled.then((delivered) => (delivered ? commit() : false)),
            );
            continue;
          }
          if (!(await settled)) return;
        }
        resolveOffset(through);
        if (!(await commit())) return;
      }
    } finally {
      clearInterval(keepAlive);
    }
  }

  /** Commits the batch's partition through `through`; false when the broker refused (a rebalance). */
  private async commit(
    consumer: Consumer,
    { batch, commitOffsetsIfNecessary }: EachBatchPayload,
    through: string,
  ): Promise<boolean> {
    const { topic, partition } = batch;
    const offset = (BigInt(through) + 1n).toString();
    try {
      await commitOffsetsIfNecessary({ topics: [{ topic, partitions: [{ partition, offset }] }] });
      const lag = Number(BigInt(batch.highWatermark) - BigInt(offset));
      this.emit("OffsetLag", Math.max(0, lag), { partition });
      return true;
    } catch (error) {
      // Usually a rebalance: the next owner redelivers from the last commit (at least once).
      this.log.warn({ err: error, partition, offset }, "commit failed; records will be redelivered");
      // KafkaJS keeps the coordinator it found when it joined and sends every commit there until the member
      // rejoins, which a member that goes on consuming never does. A new member finds the current coordinator.
      if (coordinatorLost(error))
        this.membership.replace(consumer, 0, "group coordinator lost: rejoining the group with a new consumer");
      return false;
    }
  }
}

/** KafkaJS's own test (not exported): the group moved on to a new generation or is forming one. */
function isRebalancing(error: unknown): boolean {
  const type = (error as { type?: unknown } | null)?.type;
  return (
    type === "REBALANCE_IN_PROGRESS" ||
    type === "ILLEGAL_GENERATION" ||
    type === "NOT_COORDINATOR_FOR_GROUP" ||
    type === "UNKNOWN_MEMBER_ID"
  );
}
