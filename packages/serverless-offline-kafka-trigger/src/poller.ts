import type { Kafka } from "kafkajs";
import { Batcher } from "./batcher.js";
import { DEFAULT_FAILURE_SETTINGS, effectiveRetryAttempts, type FailureSettings } from "./failure-handling.js";
import { FetchedBatches } from "./fetched-batches.js";
import { Invocation } from "./invocation.js";
import { applyKafkaJsFixes } from "./kafkajs-fixes.js";
import { atLevel, createJsonLogger, type TriggerLogger } from "./logger.js";
import { GroupMembership } from "./membership.js";
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
 * - KafkaJS hands over each partition's fetched records (eachBatch, fetched-batches.ts); the Batcher holds them
 *   until batchSize records are there or the oldest has waited maximumBatchingWindow, then ONE AWS-shaped event
 *   (records keyed "topic-partition", possibly several partitions) is invoked (invocation.ts).
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
  private readonly batcher: Batcher;
  private readonly membership: GroupMembership;
  private readonly fetched: FetchedBatches;
  private readonly invocation: Invocation;
  private readonly emit: EmitMetric;
  private readonly log: TriggerLogger;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private readonly stopController = new AbortController();

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
    const heartbeatIntervalMs = Math.max(100, Math.floor(sessionTimeoutMs / 10));
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
      heartbeatIntervalMs,
      partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? DEFAULTS.partitionsConsumedConcurrently,
      isStopping: () => this.stopping,
      onBatch: (payload, consumer) => this.fetched.handle(payload, consumer),
      settled: (topicName, partition) => this.fetched.settled(topicName, partition),
    });
    this.fetched = new FetchedBatches({
      definition: this.definition,
      batcher: this.batcher,
      membership: this.membership,
      heartbeatIntervalMs,
      log: this.log,
      stats: this.stats,
      emit: this.emit,
      isStopping: () => this.stopping,
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
      await this.fetched.commitsSettled();
      await this.membership.leave();
      await this.destination?.disconnect().catch(() => {});
      this.log.info(this.stats, "stopped");
    })();
    return this.stopped;
  }
}
