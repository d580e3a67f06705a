import { setTimeout as sleep } from "node:timers/promises";
import type { MSKEvent } from "aws-lambda";
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from "kafkajs";
import { config } from "../../lib/config.js";
import { TimeoutError } from "../../lib/errors.js";
import { kafka as defaultKafka } from "../../lib/kafka/client.js";
import { buildMskEvent, buildSelfManagedKafkaEvent } from "../../lib/kafka/msk-event.js";
import { logger } from "../../lib/logger.js";
import { withTimeout } from "../../lib/timeout.js";
import { Batcher, type BatchPart } from "./batcher.js";
import { commitPastControlRecords, throughTrailingControlRecords } from "./control-records.js";
import {
  BatchItemFailuresError,
  DEFAULT_FAILURE_SETTINGS,
  effectiveRetryAttempts,
  type FailureSettings,
  type FailureVerdict,
  RecordAgeExceededError,
  recordCount,
  settleBatch,
} from "./failure-handling.js";
import { matchesAny } from "./filter-criteria.js";
import { fixKafkaJsRunnerStop } from "./kafkajs-runner-fix.js";
import { OnFailureDestination } from "./on-failure-destination.js";
import { OutageLog } from "./outage.js";
import type { BatchInvoker, PollerDefinition, PollerOptions, PollerStats } from "./poller-options.js";
import { backoffDelay, DEFAULT_RETRY, errorMessages, type RetryOptions, sleepBackoff, type WaitBeforeRetry } from "./retry.js";

fixKafkaJsRunnerStop();

/** kafkajs's default session timeout; the heartbeat interval is a tenth of it, as in kafkajs's defaults (30 s / 3 s). */
const DEFAULT_SESSION_TIMEOUT_MS = 30_000;
/** How long after a crash KafkaJS does not recover from itself a new consumer is started. */
const CRASH_RESTART_DELAY_MS = 1_000;
/**
 * Commit failures that mean the member's cached group coordinator moved (its broker restarted and the
 * group's coordinator is elsewhere, or that broker is missing from the metadata), which KafkaJS does not
 * recover from while the member keeps consuming. Not connection errors or timeouts: with the broker down,
 * a new member could not join either, and KafkaJS's own heartbeat notices a dead coordinator.
 */
function coordinatorLost(error: unknown): boolean {
  const { type, name } = error as { type?: string; name?: string };
  return type === "NOT_COORDINATOR_FOR_GROUP" || type === "COORDINATOR_NOT_AVAILABLE" || name === "KafkaJSBrokerNotFound";
}
/** The longest pause between two attempts of a batch held by an outage: how late it is stored after the outage ends. */
const DEFAULT_OUTAGE_MAX_DELAY_MS = 5_000;
/** The function timeout when none is given (startPollers passes serverless.yml's). */
const DEFAULT_FUNCTION_TIMEOUT_MS = 60_000;
/**
 * Invocations one poller runs at once, each on partitions no other holds. Lambda's provisioned-mode
 * pollers run "up to 5 concurrent invocations" each (kafka-scaling-modes); a topic of 3 partitions uses 3.
 */
export const DEFAULT_MAX_CONCURRENT_INVOCATIONS = 5;

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
 * Concurrency as Lambda's: at most one invocation in flight per partition (a partition's eachBatch submits
 * its next chunk only after the previous one settled, and the Batcher never puts a busy partition in a
 * second event), partitions invoked concurrently up to maxConcurrentInvocations, each partition committed
 * right after its own invocation succeeded. So each partition is processed in offset order.
 * - A rebalance (seen by a heartbeat, or the partition going stale): the chunk in flight finishes and its
 *   commit is attempted (refused once the generation moved on: the next owner redelivers it); no further
 *   chunk of that fetch is submitted. A commit never names an offset past a record that is not stored.
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
    filteredOut: 0,
    expired: 0,
    partialFailures: 0,
    outageAttempts: 0,
  };
  readonly definition: PollerDefinition;
  private readonly invoke: BatchInvoker;
  private readonly kafka: Kafka;
  private readonly bootstrapServers: string[];
  private readonly retry: RetryOptions;
  private readonly waitBeforeRetry: WaitBeforeRetry;
  private readonly isOutage: (error: unknown) => boolean;
  private readonly describeError: (error: unknown) => string;
  private readonly outageMaxDelayMs: number;
  private readonly outage: OutageLog;
  private readonly failure: FailureSettings;
  private readonly destination: OnFailureDestination | undefined;
  private readonly functionTimeoutMs: number;
  private readonly concurrency: number;
  private readonly maxConcurrentInvocations: number;
  private readonly sessionTimeoutMs: number;
  private readonly heartbeatIntervalMs: number;
  private readonly batcher: Batcher;
  private readonly log;
  private consumer: Consumer | undefined;
  /**
   * Consumers this poller gave up on (replaced, or left at stop()). KafkaJS restarts a crashed consumer by
   * itself after its own disconnect; when ours ran at the same moment, the restart still came, and the old
   * consumer joined the group again behind the poller's back. Such a consumer is not restarted, its batches
   * are not delivered, and if it joins all the same it is disconnected.
   */
  private readonly retired = new WeakSet<Consumer>();
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private readonly stopController = new AbortController();
  private joined: Promise<void> | undefined;
  /** AT_TIMESTAMP: where partitions without a committed offset start, until their first batch. */
  private startOffsets = new Map<number, bigint>();
  private readonly detached = new Set<Promise<unknown>>();
  /** Per "topic-partition": chunks whose eachBatch returned before their event settled (batching window). */
  private readonly waiting = new Map<string, number>();

  constructor(options: PollerOptions) {
    this.definition = options.definition;
    this.invoke = options.invoke;
    this.kafka = options.kafka ?? defaultKafka;
    this.bootstrapServers = options.bootstrapServers ?? config.KAFKA_BROKERS;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.waitBeforeRetry = options.waitBeforeRetry ?? sleepBackoff;
    this.isOutage = options.isOutage ?? (() => false);
    this.describeError = options.describeError ?? errorMessages;
    this.outageMaxDelayMs = options.outageMaxDelayMs ?? DEFAULT_OUTAGE_MAX_DELAY_MS;
    const {
      maximumRetryAttempts,
      bisectBatchOnFunctionError,
      onFailureTopic,
      maximumRecordAgeInSeconds,
      reportBatchItemFailures,
    } = {
      ...DEFAULT_FAILURE_SETTINGS,
      ...this.definition,
    };
    this.failure = {
      maximumRetryAttempts,
      bisectBatchOnFunctionError,
      onFailureTopic,
      maximumRecordAgeInSeconds,
      reportBatchItemFailures,
    };
    this.destination = onFailureTopic ? new OnFailureDestination(this.kafka, onFailureTopic) : undefined;
    this.functionTimeoutMs = options.functionTimeoutMs ?? DEFAULT_FUNCTION_TIMEOUT_MS;
    this.concurrency = options.partitionsConsumedConcurrently ?? 32;
    this.maxConcurrentInvocations = options.maxConcurrentInvocations ?? DEFAULT_MAX_CONCURRENT_INVOCATIONS;
    this.sessionTimeoutMs = options.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
    this.heartbeatIntervalMs = Math.max(100, Math.floor(this.sessionTimeoutMs / 10));
    const { batchSize, maximumBatchingWindowMs } = this.definition;
    this.batcher = new Batcher({
      batchSize,
      maximumBatchingWindowMs,
      maxConcurrency: this.maxConcurrentInvocations,
      deliver: (parts) => this.deliver(parts),
    });
    this.log = logger.child({
      component: "offline-kafka",
      function: this.definition.functionKey,
      topic: this.definition.topic,
      groupId: this.definition.consumerGroupId,
    });
    this.outage = new OutageLog(this.log);
  }

  /** Connects, joins the group and starts consuming; resolves once consumption started (not joined). */
  async start(): Promise<void> {
    this.batcher.start();
    await this.connectAndRun();
    const { batchSize, maximumBatchingWindowMs, startingPosition, startingPositionTimestamp, filters } = this.definition;
    const { bisectBatchOnFunctionError, onFailureTopic, maximumRecordAgeInSeconds, reportBatchItemFailures } = this.failure;
    this.log.info(
      {
        eventSource: this.definition.eventType === "kafka" ? "SelfManagedKafka" : "aws:kafka",
        batchSize,
        maximumBatchingWindowMs,
        startingPosition,
        startingPositionTimestamp,
        filters: filters?.length ?? 0,
        maximumRecordAgeInSeconds,
        reportBatchItemFailures,
        maximumRetryAttempts: effectiveRetryAttempts(this.failure),
        bisectBatchOnFunctionError,
        onFailure: onFailureTopic ? `kafka://${onFailureTopic}` : "discard",
        functionTimeoutMs: this.functionTimeoutMs,
        maxConcurrentInvocations: this.maxConcurrentInvocations,
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
      // Asked after a crash, once KafkaJS disconnected the consumer: never bring back one we gave up on.
      retry: { restartOnFailure: async () => !this.stopping && !this.retired.has(consumer) },
    });
    this.consumer = consumer;
    this.joined = new Promise((resolve) => {
      consumer.on(consumer.events.GROUP_JOIN, () => {
        if (this.retired.has(consumer)) void consumer.disconnect().catch(() => {});
        else resolve();
      });
    });
    // The group rebalances: chunks still waiting in a batching window are given back (never invoked, never
    // committed; the partition's next owner reads them again), so no invocation starts on a revoked partition.
    consumer.on(consumer.events.REBALANCING, () => {
      if (this.retired.has(consumer)) return;
      const withdrawn = this.batcher.withdraw();
      if (withdrawn) this.log.info({ chunks: withdrawn }, "rebalancing: waiting chunks given back uncommitted");
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.log.error({ err: payload.error, restart: payload.restart }, "consumer crashed");
      // KafkaJS restarts itself only after retriable errors. A non-retriable one (e.g. no group
      // coordinator yet on a freshly started broker) leaves it disconnected for good: a worker that
      // looks alive and consumes nothing. Start a new consumer instead; uncommitted records come again.
      if (!payload.restart) this.replace(consumer, CRASH_RESTART_DELAY_MS, "consumer crashed for good: starting a new one");
    });
    // So a caught-up partition whose last write was a Kafka transaction reads lag 0, not 1.
    // Never past records still waiting in a batching window (their commit follows their event).
    commitPastControlRecords(consumer, this.log, (topic, partition) => !this.waiting.has(`${topic}-${partition}`));
    await consumer.connect();
    if (startingPosition === "AT_TIMESTAMP") this.startOffsets = await this.offsetsAtTimestamp();
    // Like a new event source mapping: the position applies only while the group has no committed offset.
    // AT_TIMESTAMP reads such partitions from the start and seeks to the timestamp's offset on their first batch.
    await consumer.subscribe({ topics: [topic], fromBeginning: startingPosition !== "LATEST" });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.concurrency,
      eachBatch: (payload) => this.onBatch(payload, consumer),
    });
  }

  /**
   * AT_TIMESTAMP: for each partition the group has no committed offset for, the offset of the first record
   * whose timestamp is at or after startingPositionTimestamp (the end offset when there is none yet).
   */
  private async offsetsAtTimestamp(): Promise<Map<number, bigint>> {
    const { topic, consumerGroupId, startingPositionTimestamp = 0 } = this.definition;
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const [committed] = await admin.fetchOffsets({ groupId: consumerGroupId, topics: [topic] });
      const uncommitted = new Set(
        (committed?.partitions ?? []).filter(({ offset }) => Number(offset) < 0).map(({ partition }) => partition),
      );
      const offsets = await admin.fetchTopicOffsetsByTimestamp(topic, Math.round(startingPositionTimestamp * 1000));
      const start = new Map<number, bigint>();
      for (const { partition, offset } of offsets) if (uncommitted.has(partition)) start.set(partition, BigInt(offset));
      this.log.info({ startingPositionTimestamp, offsets: Object.fromEntries(start) }, "AT_TIMESTAMP: start offsets");
      return start;
    } finally {
      await admin.disconnect();
    }
  }

  /**
   * Retires the current consumer `stale` and, after `delayMs`, starts a new member of the group in its
   * place, retrying until one runs or the poller stops. Once per consumer: a second report of the same
   * trouble (a crash and a refused commit at once) starts nothing more. What `stale` delivered and did not
   * commit comes again (absorbed by the handler's idempotent insert).
   */
  private replace(stale: Consumer, delayMs: number, why: string): void {
    if (this.stopping || this.consumer !== stale || this.retired.has(stale)) return;
    this.retired.add(stale);
    this.log.warn(why);
    setTimeout(() => {
      void (async () => {
        // Chunks not yet in an event are the stale member's: given back, never committed.
        this.batcher.withdraw();
        // Not awaited by the caller: disconnect() waits for the running eachBatch calls, one of which may be the caller.
        await stale.disconnect().catch(() => {});
        if (!this.stopping) await this.connectAndRun();
      })().catch((error: unknown) => {
        this.log.error({ err: error }, "starting a new consumer failed; trying again");
        if (this.consumer) this.replace(this.consumer, CRASH_RESTART_DELAY_MS, "retrying with another new consumer");
      });
    }, delayMs);
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
      // Deliver what waits and what is in flight, and commit it, while the consumer is still a member.
      await this.batcher.close();
      await Promise.all([...this.detached]);
      // disconnect() waits for running eachBatch calls (they have nothing left to wait for), then leaves.
      if (this.consumer) this.retired.add(this.consumer);
      await this.consumer?.disconnect();
      await this.destination?.disconnect().catch(() => {});
      this.log.info(this.stats, "stopped");
    })();
    return this.stopped;
  }

  /** One fetched batch of `consumer` (the one it came from: a commit that fails names it, not its successor). */
  private async onBatch(
    { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }: EachBatchPayload,
    consumer: Consumer,
  ) {
    if (this.retired.has(consumer)) return;
    const start = this.startOffsets.get(batch.partition);
    if (start !== undefined) {
      // AT_TIMESTAMP and nothing committed yet: begin at the first record at or after the timestamp.
      this.startOffsets.delete(batch.partition);
      if (BigInt(batch.firstOffset() ?? "0") < start) {
        this.consumer?.seek({ topic: batch.topic, partition: batch.partition, offset: start.toString() });
        return;
      }
    }
    // While the batch waits (batching window, a slow or failing handler, a database outage) the member must
    // keep heart-beating or the group evicts it. heartbeat() sends at most one per heartbeatInterval, so
    // ticking at half of it keeps the gap below 1.5 intervals.
    // A heartbeat refused because the group is rebalancing: finish the chunk in flight, start no other.
    let rebalancing = false;
    const beat = () =>
      heartbeat().catch((error: unknown) => {
        if (isRebalancing(error)) rebalancing = true;
      });
    const keepAlive = setInterval(beat, Math.ceil(this.heartbeatIntervalMs / 2));
    try {
      const chunks = throughTrailingControlRecords(this.chunksOf(batch.messages), batch.lastOffset());
      for (const [index, { deliver, through }] of chunks.entries()) {
        if (index > 0) await beat();
        // Stopping, a rebalance, or the partition was revoked: leave the rest uncommitted for the next owner.
        if (this.stopping || rebalancing || !isRunning() || isStale()) return;
        const commit = () => this.commit(consumer, commitOffsetsIfNecessary, batch.topic, batch.partition, through);
        if (deliver.length > 0) {
          const settled = this.batcher.submit(batch.topic, batch.partition, deliver);
          if (this.batcher.gathering(batch.topic, batch.partition)) {
            // A batching window is open with room for more of this partition: let KafkaJS fetch on (it does
            // only once this call returns) and commit when the event holding these records has succeeded.
            resolveOffset(through);
            const key = `${batch.topic}-${batch.partition}`;
            this.waiting.set(key, (this.waiting.get(key) ?? 0) + 1);
            this.track(
              settled
                .then((delivered) => (delivered ? commit() : false))
                .finally(() => {
                  const left = (this.waiting.get(key) ?? 1) - 1;
                  if (left > 0) this.waiting.set(key, left);
                  else this.waiting.delete(key);
                }),
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

  /** Commits `partition` through `through` (the next offset after it); false when the broker refused (a rebalance). */
  private async commit(
    consumer: Consumer,
    commitOffsetsIfNecessary: EachBatchPayload["commitOffsetsIfNecessary"],
    topic: string,
    partition: number,
    through: string,
  ): Promise<boolean> {
    const offset = (BigInt(through) + 1n).toString();
    try {
      await commitOffsetsIfNecessary({ topics: [{ topic, partitions: [{ partition, offset }] }] });
      return true;
    } catch (error) {
      // Usually a rebalance: the next owner redelivers from the last commit; the handler is idempotent.
      this.log.warn({ err: error, partition, offset }, "commit failed; records will be redelivered");
      // KafkaJS keeps the coordinator it found when it joined and sends every commit there until the member
      // rejoins, which a member that goes on consuming never does: measured, 35 s of refused commits after a
      // rolling restart, until the worker stopped. A new member finds the current coordinator.
      if (coordinatorLost(error)) this.replace(consumer, 0, "group coordinator lost: rejoining the group with a new consumer");
      return false;
    }
  }

  /** Commits that run after their eachBatch call returned (batching window); stop() waits for them. */
  private track(work: Promise<unknown>): void {
    const tracked = work.catch(() => {}).finally(() => this.detached.delete(tracked));
    this.detached.add(tracked);
  }

  /**
   * A fetched partition batch -> chunks of at most batchSize records to deliver, each with the offset it is
   * committed through. Records no filter pattern matches are never delivered: they are committed with the
   * chunk after them, or on their own when nothing after them in this batch is delivered.
   */
  private chunksOf(messages: KafkaMessage[]): { deliver: KafkaMessage[]; through: string }[] {
    const { batchSize, filters } = this.definition;
    const last = messages[messages.length - 1];
    if (!last) return [];
    const kept = filters?.length ? messages.filter((message) => matchesAny(filters, message.value)) : messages;
    this.stats.filteredOut += messages.length - kept.length;
    const chunks: { deliver: KafkaMessage[]; through: string }[] = [];
    for (let start = 0; start < kept.length; start += batchSize) {
      const deliver = kept.slice(start, start + batchSize);
      chunks.push({ deliver, through: (deliver[deliver.length - 1] as KafkaMessage).offset });
    }
    // Filtered-out records after the last delivered one are committed too (never delivered, as on AWS).
    const tail = chunks[chunks.length - 1];
    if (!tail) chunks.push({ deliver: [], through: last.offset });
    else tail.through = last.offset;
    return chunks;
  }

  /**
   * Settles one event (failure-handling.ts): true once every record in it was delivered, sent to the
   * on-failure destination or discarded; false when the poller stops first (nothing committed).
   */
  private deliver(parts: BatchPart[]): Promise<boolean> {
    const token = {};
    return settleBatch(parts, this.failure, {
      invoke: (batch) => this.invokeOnce(batch),
      afterFailure: (batch, error, attempt) => this.afterFailure(batch, error, attempt, token),
      giveUp: (batch, error, attempts) => this.giveUp(batch, error, attempts),
      onBisect: (halves) => {
        this.stats.bisections += 1;
        this.log.warn(
          { halves: halves.map((half) => describe(half)) },
          "batch failed: split in two (bisectBatchOnFunctionError)",
        );
      },
    }).finally(() => this.outage.release(token));
  }

  /** The event Lambda would deliver: MSK's for `msk` events, SelfManagedKafka's (no ARN) for `kafka` events. */
  private eventOf(parts: BatchPart[]): MSKEvent {
    if (this.definition.eventType === "kafka")
      return buildSelfManagedKafkaEvent(parts, this.bootstrapServers) as unknown as MSKEvent;
    return buildMskEvent(parts, {
      bootstrapServers: this.bootstrapServers,
      eventSourceArn:
        this.definition.eventSourceArn ?? `arn:aws:kafka:local:000000000000:cluster/offline-kafka/${this.definition.functionKey}`,
    });
  }

  /** One invocation, failed when it throws or runs past the function timeout (a late finish is harmless: the handler is idempotent). */
  private async invokeOnce(parts: BatchPart[]): Promise<unknown> {
    const event = this.eventOf(parts);
    const started = performance.now();
    const result = await withTimeout(this.invoke(event), this.functionTimeoutMs, `function "${this.definition.functionKey}"`);
    const count = recordCount(parts);
    this.stats.batches += 1;
    this.stats.records += count;
    this.log.debug({ count, partitions: describe(parts), ms: Math.round(performance.now() - started) }, "batch delivered");
    return result;
  }

  private async afterFailure(parts: BatchPart[], error: unknown, attempt: number, token: object): Promise<FailureVerdict> {
    this.stats.failedAttempts += 1;
    if (error instanceof TimeoutError) this.stats.timeouts += 1;
    if (error instanceof BatchItemFailuresError) this.stats.partialFailures += 1;
    if (this.isOutage(error)) return this.holdThroughOutage(parts, error, attempt, token);
    const delayMs = backoffDelay(attempt, this.retry);
    this.log.error(
      {
        error: this.describeError(error),
        // The stack once per batch, for a defect's where; repeats carry only the description.
        ...(attempt === 1 && error instanceof Error ? { stack: error.stack } : {}),
        count: recordCount(parts),
        partitions: describe(parts),
        attempt,
        retryInMs: this.stopping ? null : delayMs,
      },
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

  /**
   * An outage (the isOutage hook said so): not the records' fault, so the attempt counts toward nothing and
   * the batch is not bisected. Its partitions are paused (nothing more is fetched for them) for a capped
   * backoff, then the same batch is invoked again, for as long as it takes; the member keeps heart-beating, so
   * it keeps its partitions. Logged once per change of state (OutageLog), never once per attempt.
   */
  private async holdThroughOutage(parts: BatchPart[], error: unknown, attempt: number, token: object): Promise<FailureVerdict> {
    this.stats.outageAttempts += 1;
    const consumer = this.consumer;
    if (this.stopping || !consumer) return "stopped";
    const cause = this.describeError(error);
    this.outage.hold(token, recordCount(parts), cause, describe(parts));
    const delayMs = Math.min(backoffDelay(attempt, this.retry), this.outageMaxDelayMs);
    this.log.debug({ error: cause, attempt, retryInMs: delayMs }, "outage: batch held");
    const byTopic = new Map<string, Set<number>>();
    for (const { topic, partition } of parts) byTopic.set(topic, (byTopic.get(topic) ?? new Set()).add(partition));
    const topicPartitions = [...byTopic].map(([topic, set]) => ({ topic, partitions: [...set] }));
    consumer.pause(topicPartitions);
    try {
      await sleep(delayMs, undefined, { signal: this.stopController.signal }).catch(() => {});
    } finally {
      consumer.resume(topicPartitions);
    }
    return this.stopping ? "stopped" : "outage";
  }

  /** Retries exhausted: to the on-failure destination (until the broker takes them), or discarded with an error log. */
  private async giveUp(parts: BatchPart[], error: unknown, attempts: number): Promise<boolean> {
    const count = recordCount(parts);
    const where = { count, partitions: describe(parts), attempts, error: errorMessages(error) };
    if (error instanceof RecordAgeExceededError) this.stats.expired += count;
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

/** First and last offset per partition, for logs. */
function describe(parts: BatchPart[]) {
  return parts.map(({ topic, partition, messages }) => ({
    topic,
    partition,
    firstOffset: messages[0]?.offset,
    lastOffset: messages[messages.length - 1]?.offset,
  }));
}
