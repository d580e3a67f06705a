import { setTimeout as sleep } from "node:timers/promises";
import type { Consumer, EachBatchPayload, Kafka } from "kafkajs";
import { config } from "../../lib/config.js";
import { TimeoutError } from "../../lib/errors.js";
import { kafka as defaultKafka } from "../../lib/kafka/client.js";
import { buildMskEvent } from "../../lib/kafka/msk-event.js";
import { logger } from "../../lib/logger.js";
import { withTimeout } from "../../lib/timeout.js";
import { Batcher, type BatchPart } from "./batcher.js";
import {
  DEFAULT_FAILURE_SETTINGS,
  effectiveRetryAttempts,
  type FailureSettings,
  type FailureVerdict,
  recordCount,
  settleBatch,
} from "./failure-handling.js";
import { OnFailureDestination } from "./on-failure-destination.js";
import type { BatchInvoker, PollerDefinition, PollerOptions, PollerStats } from "./poller-options.js";
import { backoffDelay, DEFAULT_RETRY, errorMessages, type RetryOptions, sleepBackoff, type WaitBeforeRetry } from "./retry.js";

/** kafkajs's default session timeout; the heartbeat interval is a tenth of it, as in kafkajs's defaults (30 s / 3 s). */
const DEFAULT_SESSION_TIMEOUT_MS = 30_000;
/** How long after a crash KafkaJS does not recover from itself a new consumer is started. */
const CRASH_RESTART_DELAY_MS = 1_000;
/** The function timeout when none is given (startPollers passes serverless.yml's). */
const DEFAULT_FUNCTION_TIMEOUT_MS = 60_000;

/**
 * Emulates Lambda's Kafka event source mapping with a kafkajs consumer group:
 * - kafkajs hands over each partition's fetched records (eachBatch, many partitions at once); the Batcher
 *   holds them until batchSize records are there or the oldest has waited maximumBatchingWindow, then
 *   ONE AWS-shaped event (records keyed "topic-partition", possibly several partitions) is invoked.
 * - Offsets are resolved and committed only after the handler returned. A thrown error (or an invocation
 *   past the function timeout) retries the event with capped exponential backoff, as Lambda's error
 *   handling settings say (failure-handling.ts: retries, bisecting, the on-failure destination); meanwhile
 *   the eachBatch calls block (nothing new is fetched for those partitions) and keep heart-beating, so the
 *   group keeps the partitions.
 * - stop(): the batch in flight finishes and is committed, nothing new starts, the consumer leaves.
 * Invocations are serialised, and a partition has at most one chunk pending, so each partition is
 * processed in offset order.
 */
export class KafkaPoller {
  readonly stats: PollerStats = {
    batches: 0,
    records: 0,
    failedAttempts: 0,
    timeouts: 0,
    bisections: 0,
    sentOnFailure: 0,
    discarded: 0,
  };
  readonly definition: PollerDefinition;
  private readonly invoke: BatchInvoker;
  private readonly kafka: Kafka;
  private readonly bootstrapServers: string[];
  private readonly retry: RetryOptions;
  private readonly waitBeforeRetry: WaitBeforeRetry;
  private readonly failure: FailureSettings;
  private readonly destination: OnFailureDestination | undefined;
  private readonly functionTimeoutMs: number;
  private readonly concurrency: number;
  private readonly sessionTimeoutMs: number;
  private readonly heartbeatIntervalMs: number;
  private readonly batcher: Batcher;
  private readonly log;
  private consumer: Consumer | undefined;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private readonly stopController = new AbortController();
  private joined: Promise<void> | undefined;

  constructor(options: PollerOptions) {
    this.definition = options.definition;
    this.invoke = options.invoke;
    this.kafka = options.kafka ?? defaultKafka;
    this.bootstrapServers = options.bootstrapServers ?? config.KAFKA_BROKERS;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.waitBeforeRetry = options.waitBeforeRetry ?? sleepBackoff;
    const { maximumRetryAttempts, bisectBatchOnFunctionError, onFailureTopic } = {
      ...DEFAULT_FAILURE_SETTINGS,
      ...this.definition,
    };
    this.failure = { maximumRetryAttempts, bisectBatchOnFunctionError, onFailureTopic };
    this.destination = onFailureTopic ? new OnFailureDestination(this.kafka, onFailureTopic) : undefined;
    this.functionTimeoutMs = options.functionTimeoutMs ?? DEFAULT_FUNCTION_TIMEOUT_MS;
    this.concurrency = options.partitionsConsumedConcurrently ?? 32;
    this.sessionTimeoutMs = options.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
    this.heartbeatIntervalMs = Math.max(100, Math.floor(this.sessionTimeoutMs / 10));
    const { batchSize, maximumBatchingWindowMs } = this.definition;
    this.batcher = new Batcher({ batchSize, maximumBatchingWindowMs, deliver: (parts) => this.deliver(parts) });
    this.log = logger.child({
      component: "offline-kafka",
      function: this.definition.functionKey,
      topic: this.definition.topic,
      groupId: this.definition.consumerGroupId,
    });
  }

  /** Connects, joins the group and starts consuming; resolves once consumption started (not joined). */
  async start(): Promise<void> {
    this.batcher.start();
    await this.connectAndRun();
    const { batchSize, maximumBatchingWindowMs, startingPosition } = this.definition;
    const { bisectBatchOnFunctionError, onFailureTopic } = this.failure;
    this.log.info(
      {
        batchSize,
        maximumBatchingWindowMs,
        startingPosition,
        maximumRetryAttempts: effectiveRetryAttempts(this.failure),
        bisectBatchOnFunctionError,
        onFailure: onFailureTopic ? `kafka://${onFailureTopic}` : "discard",
        functionTimeoutMs: this.functionTimeoutMs,
        brokers: this.bootstrapServers,
      },
      "polling",
    );
  }

  private async connectAndRun(): Promise<void> {
    const { topic, consumerGroupId, startingPosition, maximumBatchingWindowMs } = this.definition;
    const consumer = this.kafka.consumer({
      groupId: consumerGroupId,
      allowAutoTopicCreation: false,
      sessionTimeout: this.sessionTimeoutMs,
      heartbeatInterval: this.heartbeatIntervalMs,
      // An idle fetch returns after this long, so stop() never waits on a long poll.
      maxWaitTimeInMs: Math.min(Math.max(maximumBatchingWindowMs, 100), 1_000),
    });
    this.consumer = consumer;
    this.joined = new Promise((resolve) => {
      consumer.on(consumer.events.GROUP_JOIN, () => resolve());
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.log.error({ err: payload.error, restart: payload.restart }, "consumer crashed");
      // KafkaJS restarts itself only after retriable errors. A non-retriable one (e.g. no group
      // coordinator yet on a freshly started broker) leaves it disconnected for good: a worker that
      // looks alive and consumes nothing. Start a new consumer instead; uncommitted records come again.
      if (!payload.restart && this.consumer === consumer) this.restartLater(consumer);
    });
    await consumer.connect();
    // Like a new event source mapping: the position applies only while the group has no committed offset.
    await consumer.subscribe({ topics: [topic], fromBeginning: startingPosition === "TRIM_HORIZON" });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.concurrency,
      eachBatch: (payload) => this.onBatch(payload),
    });
  }

  /** Replaces a consumer KafkaJS gave up on with a new one, retrying until it runs or the poller stops. */
  private restartLater(crashed: Consumer): void {
    setTimeout(() => {
      if (this.stopping || this.consumer !== crashed) return;
      this.connectAndRun().catch((error: unknown) => {
        this.log.error({ err: error }, "consumer restart failed; trying again");
        const failed = this.consumer as Consumer;
        failed.disconnect().catch(() => {});
        this.restartLater(failed);
      });
    }, CRASH_RESTART_DELAY_MS);
  }

  /** Resolves when this member has joined the group and got its partitions (tests wait for it). */
  whenJoined(): Promise<void> {
    return this.joined ?? Promise.reject(new Error("poller not started"));
  }

  /** Finishes and commits the batch in flight, starts nothing new, leaves the group and disconnects. Idempotent. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping = true;
      this.stopController.abort();
      this.batcher.flush();
      // disconnect() waits for running eachBatch calls, which wait for the batch in flight and commit it.
      await this.consumer?.disconnect();
      await this.batcher.close();
      await this.destination?.disconnect().catch(() => {});
      this.log.info(this.stats, "stopped");
    })();
    return this.stopped;
  }

  private async onBatch({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }: EachBatchPayload) {
    // While the batch waits (batching window, a slow or failing handler, a database outage) the member must
    // keep heart-beating or the group evicts it. heartbeat() sends at most one per heartbeatInterval, so
    // ticking at half of it keeps the gap below 1.5 intervals.
    const keepAlive = setInterval(() => heartbeat().catch(() => {}), Math.ceil(this.heartbeatIntervalMs / 2));
    try {
      const { batchSize } = this.definition;
      for (let start = 0; start < batch.messages.length; start += batchSize) {
        // Stopping, or the partition was revoked: leave the rest uncommitted for the next owner.
        if (this.stopping || !isRunning() || isStale()) return;
        const chunk = batch.messages.slice(start, start + batchSize);
        const delivered = await this.batcher.submit(batch.topic, batch.partition, chunk);
        if (!delivered) return;
        const lastOffset = chunk[chunk.length - 1]?.offset as string;
        resolveOffset(lastOffset);
        const next = (BigInt(lastOffset) + 1n).toString();
        try {
          await commitOffsetsIfNecessary({
            topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: next }] }],
          });
        } catch (error) {
          // Usually a rebalance: the next owner redelivers from the last commit; the handler is idempotent.
          this.log.warn({ err: error, partition: batch.partition, offset: next }, "commit failed; records will be redelivered");
          return;
        }
      }
    } finally {
      clearInterval(keepAlive);
    }
  }

  /**
   * Settles one event (failure-handling.ts): true once every record in it was delivered, sent to the
   * on-failure destination or discarded; false when the poller stops first (nothing committed).
   */
  private deliver(parts: BatchPart[]): Promise<boolean> {
    return settleBatch(parts, this.failure, {
      invoke: (batch) => this.invokeOnce(batch),
      afterFailure: (batch, error, attempt) => this.afterFailure(batch, error, attempt),
      giveUp: (batch, error, attempts) => this.giveUp(batch, error, attempts),
      onBisect: (halves) => {
        this.stats.bisections += 1;
        this.log.warn(
          { halves: halves.map((half) => describe(half)) },
          "batch failed: split in two (bisectBatchOnFunctionError)",
        );
      },
    });
  }

  /** One invocation, failed when it throws or runs past the function timeout (a late finish is harmless: the handler is idempotent). */
  private async invokeOnce(parts: BatchPart[]): Promise<void> {
    const event = buildMskEvent(parts, {
      bootstrapServers: this.bootstrapServers,
      eventSourceArn: this.definition.eventSourceArn,
    });
    const started = performance.now();
    await withTimeout(this.invoke(event), this.functionTimeoutMs, `function "${this.definition.functionKey}"`);
    const count = recordCount(parts);
    this.stats.batches += 1;
    this.stats.records += count;
    this.log.debug({ count, partitions: describe(parts), ms: Math.round(performance.now() - started) }, "batch delivered");
  }

  private async afterFailure(parts: BatchPart[], error: unknown, attempt: number): Promise<FailureVerdict> {
    this.stats.failedAttempts += 1;
    if (error instanceof TimeoutError) this.stats.timeouts += 1;
    const delayMs = backoffDelay(attempt, this.retry);
    // The full error (stack, SQL) once per batch; repeats carry only the messages.
    const reason = attempt === 1 ? { err: error } : { error: errorMessages(error) };
    this.log.error(
      { ...reason, count: recordCount(parts), partitions: describe(parts), attempt, retryInMs: this.stopping ? null : delayMs },
      "handler failed; offsets not committed (the batch is retried, bisected or given up on, as the settings say)",
    );
    if (this.stopping || !this.consumer) return "stopped";
    const verdict = await this.waitBeforeRetry({
      error,
      attempt,
      delayMs,
      signal: this.stopController.signal,
      partitions: parts.map(({ topic, partition }) => ({ topic, partition })),
      consumer: this.consumer,
    });
    return this.stopping ? "stopped" : verdict;
  }

  /** Retries exhausted: to the on-failure destination (until the broker takes them), or discarded with an error log. */
  private async giveUp(parts: BatchPart[], error: unknown, attempts: number): Promise<boolean> {
    const count = recordCount(parts);
    const where = { count, partitions: describe(parts), attempts, error: errorMessages(error) };
    if (!this.destination) {
      this.stats.discarded += count;
      this.log.error(where, "retries exhausted and no on-failure destination: records DISCARDED, offsets committed past them");
      return true;
    }
    for (let attempt = 1; !this.stopping; attempt += 1) {
      try {
        await this.destination.send(parts, { functionKey: this.definition.functionKey, error });
        this.stats.sentOnFailure += count;
        this.log.warn(
          { ...where, destination: `kafka://${this.destination.topic}` },
          "retries exhausted: records sent to the on-failure destination",
        );
        return true;
      } catch (sendError) {
        const delayMs = backoffDelay(attempt, this.retry);
        this.log.error(
          { ...where, err: sendError, retryInMs: delayMs },
          "on-failure destination refused the records; nothing committed, trying again",
        );
        await sleep(delayMs, undefined, { signal: this.stopController.signal }).catch(() => {});
      }
    }
    return false;
  }
}

/** First and last offset per partition, for logs. */
function describe(parts: BatchPart[]) {
  return parts.map(({ topic, partition, messages }) => ({
    topic,
    partition,
    firstOffset: messages[0]?.offset,
    lastOffset: messages[messages.length - 1]?.offset,
  }));
}
