import { setTimeout as sleep } from "node:timers/promises";
import type { MSKEvent } from "aws-lambda";
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from "kafkajs";
import { config } from "../config.js";
import { kafka as defaultKafka } from "../kafka/client.js";
import { buildMskEvent } from "../kafka/msk-event.js";
import { logger } from "../logger.js";
import type { KafkaEventDefinition } from "./event-definition.js";

/** Invokes the function with one MSK event; a rejection means "retry this batch". */
export type BatchInvoker = (event: MSKEvent) => Promise<unknown>;

export interface RetryOptions {
  initialDelayMs: number;
  maxDelayMs: number;
}

export interface RetryContext {
  error: unknown;
  attempt: number;
  /** The capped exponential backoff for this attempt. */
  delayMs: number;
  /** Aborted when the poller stops; waiting must end then. */
  signal: AbortSignal;
  /** The partitions of the failed batch, e.g. to pause them (kafkajs consumer.pause) while a dependency is down. */
  partitions: { topic: string; partition: number }[];
  consumer: Consumer;
}

export type PollerDefinition = Pick<
  KafkaEventDefinition,
  "functionKey" | "topic" | "batchSize" | "maximumBatchingWindowMs" | "startingPosition" | "consumerGroupId" | "eventSourceArn"
>;

export interface PollerOptions {
  definition: PollerDefinition;
  invoke: BatchInvoker;
  /** Defaults to the app's one Kafka client (config.KAFKA_BROKERS); fault tests pass a client of their own broker. */
  kafka?: Kafka;
  /** The event's bootstrapServers; defaults to config.KAFKA_BROKERS. */
  bootstrapServers?: string[];
  retry?: Partial<RetryOptions>;
  /**
   * How to wait before the failed batch is invoked again. Default: sleep the backoff delay. The place for
   * "pause the partitions and resume once the database answers" (issue 6): the batch stays in memory,
   * uncommitted, whatever this does.
   */
  waitBeforeRetry?: (context: RetryContext) => Promise<void>;
  /** kafkajs eachBatch calls handled at once: at least the topic's partition count, so one event can mix partitions. */
  partitionsConsumedConcurrently?: number;
  /**
   * The group's session timeout (kafkajs default 30 s): how long a member that stopped heart-beating (a
   * crashed worker) keeps its partitions. The broker's minimum is 6 s (group.min.session.timeout.ms).
   */
  sessionTimeoutMs?: number;
}

export interface PollerStats {
  batches: number;
  records: number;
  failedAttempts: number;
}

/** Lambda's payload limit; a batch stops growing before it (one partition chunk is always taken). */
const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;
/** kafkajs's default session timeout; the heartbeat interval is a tenth of it, as in kafkajs's defaults (30 s / 3 s). */
const DEFAULT_SESSION_TIMEOUT_MS = 30_000;
const DEFAULT_RETRY: RetryOptions = { initialDelayMs: 250, maxDelayMs: 30_000 };

interface PendingPart {
  topic: string;
  partition: number;
  messages: KafkaMessage[];
  bytes: number;
  arrivedAt: number;
  settle: (delivered: boolean) => void;
}

function approximateBytes(messages: KafkaMessage[]): number {
  let bytes = 0;
  for (const message of messages) bytes += (message.value?.length ?? 0) + (message.key?.length ?? 0) + 200;
  return Math.ceil((bytes * 4) / 3);
}

/** "message <- cause message <- ...": enough to tell a database outage from a bug without the stack. */
function errorMessages(error: unknown): string {
  const messages: string[] = [];
  for (let current = error; current instanceof Error && messages.length < 4; current = current.cause) {
    messages.push(current.message.split("\n")[0] ?? "");
  }
  return messages.length ? messages.join(" <- ") : String(error);
}

export function backoffDelay(attempt: number, { initialDelayMs, maxDelayMs }: RetryOptions): number {
  return Math.min(initialDelayMs * 2 ** Math.max(0, attempt - 1), maxDelayMs);
}

/**
 * Emulates Lambda's Kafka event source mapping with a kafkajs consumer group:
 * - kafkajs hands over each partition's fetched records (eachBatch, many partitions at once); they wait
 *   in `pending` until batchSize records are there or the oldest has waited maximumBatchingWindow, then
 *   ONE AWS-shaped event (records keyed "topic-partition", possibly several partitions) is invoked.
 * - Offsets are resolved and committed only after the handler returned. A thrown error retries the same
 *   event with capped exponential backoff; meanwhile the eachBatch calls block (so nothing new is fetched
 *   for those partitions) and keep heart-beating, so the group keeps the partitions.
 * - stop(): the batch in flight finishes and is committed, nothing new starts, the consumer leaves.
 * Invocations are serialised, and a partition has at most one chunk pending, so each partition is
 * processed in offset order.
 */
/** How long after a crash KafkaJS does not recover from itself a new consumer is started. */
const CRASH_RESTART_DELAY_MS = 1_000;

export class KafkaPoller {
  readonly stats: PollerStats = { batches: 0, records: 0, failedAttempts: 0 };
  readonly definition: PollerDefinition;
  private readonly invoke: BatchInvoker;
  private readonly kafka: Kafka;
  private readonly bootstrapServers: string[];
  private readonly retry: RetryOptions;
  private readonly waitBeforeRetry: (context: RetryContext) => Promise<void>;
  private readonly concurrency: number;
  private readonly sessionTimeoutMs: number;
  private readonly heartbeatIntervalMs: number;
  private readonly log;
  private consumer: Consumer | undefined;
  private pending: PendingPart[] = [];
  private pendingCount = 0;
  private wake: (() => void) | undefined;
  private drainLoop: Promise<void> | undefined;
  private stopping = false;
  private closed = false;
  private stopped: Promise<void> | undefined;
  private readonly stopController = new AbortController();
  private joined: Promise<void> | undefined;

  constructor(options: PollerOptions) {
    this.definition = options.definition;
    this.invoke = options.invoke;
    this.kafka = options.kafka ?? defaultKafka;
    this.bootstrapServers = options.bootstrapServers ?? config.KAFKA_BROKERS;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.waitBeforeRetry =
      options.waitBeforeRetry ?? (({ delayMs, signal }) => sleep(delayMs, undefined, { signal }).catch(() => {}));
    this.concurrency = options.partitionsConsumedConcurrently ?? 32;
    this.sessionTimeoutMs = options.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
    this.heartbeatIntervalMs = Math.max(100, Math.floor(this.sessionTimeoutMs / 10));
    this.log = logger.child({
      component: "offline-kafka",
      function: this.definition.functionKey,
      topic: this.definition.topic,
      groupId: this.definition.consumerGroupId,
    });
  }

  /** Connects, joins the group and starts consuming; resolves once consumption started (not joined). */
  async start(): Promise<void> {
    this.drainLoop = this.drain();
    await this.connectAndRun();
    const { batchSize, maximumBatchingWindowMs, startingPosition } = this.definition;
    this.log.info({ batchSize, maximumBatchingWindowMs, startingPosition, brokers: this.bootstrapServers }, "polling");
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
      this.wake?.();
      // disconnect() waits for running eachBatch calls, which wait for the batch in flight and commit it.
      await this.consumer?.disconnect();
      this.closed = true;
      this.wake?.();
      await this.drainLoop;
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
        const delivered = await this.submit(batch.topic, batch.partition, chunk);
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

  /** Hands a chunk to the batcher; resolves true once the handler succeeded on the event holding it. */
  private submit(topic: string, partition: number, messages: KafkaMessage[]): Promise<boolean> {
    return new Promise((settle) => {
      this.pending.push({ topic, partition, messages, bytes: approximateBytes(messages), arrivedAt: Date.now(), settle });
      this.pendingCount += messages.length;
      this.wake?.();
    });
  }

  private sleepUntilWoken(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        if (this.wake === done) this.wake = undefined;
        resolve();
      };
      if (ms !== undefined) timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  private async drain(): Promise<void> {
    const { batchSize, maximumBatchingWindowMs } = this.definition;
    for (;;) {
      const oldest = this.pending[0];
      if (!oldest) {
        if (this.closed) return;
        await this.sleepUntilWoken();
        continue;
      }
      const windowLeft = oldest.arrivedAt + maximumBatchingWindowMs - Date.now();
      if (this.pendingCount < batchSize && windowLeft > 0 && !this.stopping) {
        await this.sleepUntilWoken(windowLeft);
        continue;
      }
      const parts = this.take();
      const delivered = await this.deliver(parts);
      for (const part of parts) part.settle(delivered);
    }
  }

  /** The oldest pending chunks, up to batchSize records and the payload limit (at least one chunk). */
  private take(): PendingPart[] {
    const taken: PendingPart[] = [];
    let count = 0;
    let bytes = 0;
    for (const next of this.pending) {
      if (
        taken.length > 0 &&
        (count + next.messages.length > this.definition.batchSize || bytes + next.bytes > MAX_PAYLOAD_BYTES)
      )
        break;
      taken.push(next);
      count += next.messages.length;
      bytes += next.bytes;
    }
    this.pending = this.pending.slice(taken.length);
    this.pendingCount -= count;
    return taken;
  }

  /** Invokes until the handler succeeds (true), or the poller stops while it fails (false: nothing committed). */
  private async deliver(parts: PendingPart[]): Promise<boolean> {
    const event = buildMskEvent(parts, {
      bootstrapServers: this.bootstrapServers,
      eventSourceArn: this.definition.eventSourceArn,
    });
    const count = parts.reduce((sum, part) => sum + part.messages.length, 0);
    const partitions = parts.map(({ topic, partition, messages }) => ({
      topic,
      partition,
      firstOffset: messages[0]?.offset,
      lastOffset: messages[messages.length - 1]?.offset,
    }));
    for (let attempt = 1; ; attempt += 1) {
      const started = performance.now();
      try {
        await this.invoke(event);
        this.stats.batches += 1;
        this.stats.records += count;
        this.log.debug({ count, partitions, attempt, ms: Math.round(performance.now() - started) }, "batch delivered");
        return true;
      } catch (error) {
        this.stats.failedAttempts += 1;
        const delayMs = backoffDelay(attempt, this.retry);
        // The full error (stack, SQL) once per batch; repeats carry only the messages.
        const reason = attempt === 1 ? { err: error } : { error: errorMessages(error) };
        this.log.error(
          { ...reason, count, partitions, attempt, retryInMs: this.stopping ? null : delayMs },
          "handler failed; offsets not committed, the batch will be retried",
        );
        if (this.stopping || !this.consumer) return false;
        await this.waitBeforeRetry({
          error,
          attempt,
          delayMs,
          signal: this.stopController.signal,
          partitions: parts.map(({ topic, partition }) => ({ topic, partition })),
          consumer: this.consumer,
        });
        if (this.stopping) return false;
      }
    }
  }
}
