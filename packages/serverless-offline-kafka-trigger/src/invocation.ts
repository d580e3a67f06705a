import { setTimeout as sleep } from "node:timers/promises";
import type { MSKEvent } from "aws-lambda";
import type { Consumer } from "kafkajs";
import type { BatchPart } from "./batcher.js";
import { buildMskEvent, buildSelfManagedKafkaEvent } from "./event.js";
import {
  BatchItemFailuresError,
  type FailureSettings,
  type FailureVerdict,
  RecordAgeExceededError,
  recordCount,
  settleBatch,
} from "./failure-handling.js";
import type { TriggerLogger } from "./logger.js";
import type { EmitMetric } from "./metrics.js";
import type { OnFailureDestination } from "./on-failure-destination.js";
import { failureReason } from "./on-failure-record.js";
import { OutageLog } from "./outage.js";
import type { BatchInvoker, PollerDefinition, PollerStats } from "./poller-options.js";
import { backoffDelay, errorMessages, type RetryOptions, type WaitBeforeRetry } from "./retry.js";
import { FunctionTimeoutError, withTimeout } from "./timeout.js";

/** First and last offset per partition, for logs. */
export function describeParts(parts: BatchPart[]) {
  return parts.map(({ topic, partition, messages }) => ({
    topic,
    partition,
    firstOffset: messages[0]?.offset,
    lastOffset: messages[messages.length - 1]?.offset,
  }));
}

export interface InvocationOptions {
  definition: PollerDefinition;
  invoke: BatchInvoker;
  bootstrapServers: string[];
  functionTimeoutMs: number;
  failure: FailureSettings;
  destination: OnFailureDestination | undefined;
  retry: RetryOptions;
  waitBeforeRetry: WaitBeforeRetry;
  isOutage: (error: unknown) => boolean;
  describeError: (error: unknown) => string;
  outageMaxDelayMs: number;
  log: TriggerLogger;
  stats: PollerStats;
  emit: EmitMetric;
  isStopping: () => boolean;
  signal: AbortSignal;
  consumer: () => Consumer | undefined;
}

/**
 * One event's life: built in AWS's shape, invoked (failed when it throws or runs past the function timeout),
 * and after a failure the verdict of the error-handling settings (failure-handling.ts): retried after a
 * backoff, held through a dependency outage, bisected, or given up on (the on-failure destination, else
 * discarded).
 */
export class Invocation {
  private readonly options: InvocationOptions;
  private readonly outage: OutageLog;

  constructor(options: InvocationOptions) {
    this.options = options;
    this.outage = new OutageLog(options.log);
  }

  /** Settles one event: true once every record in it was delivered, sent on or discarded; false when the poller stops first. */
  deliver(parts: BatchPart[]): Promise<boolean> {
    const token = {};
    const { failure, stats, log } = this.options;
    return settleBatch(parts, failure, {
      invoke: (batch) => this.invokeOnce(batch),
      afterFailure: (batch, error, attempt) => this.afterFailure(batch, error, attempt, token),
      giveUp: (batch, error, attempts) => this.giveUp(batch, error, attempts),
      onBisect: (halves) => {
        stats.bisections += 1;
        log.warn(
          { halves: halves.map((half) => describeParts(half)) },
          "batch failed: split in two (bisectBatchOnFunctionError)",
        );
      },
    }).finally(() => this.outage.release(token));
  }

  /** The event Lambda would deliver: MSK's for `msk` events, SelfManagedKafka's (no ARN) for `kafka` events. */
  eventOf(parts: BatchPart[]): MSKEvent {
    const { definition, bootstrapServers } = this.options;
    if (definition.eventType === "kafka") return buildSelfManagedKafkaEvent(parts, bootstrapServers) as unknown as MSKEvent;
    return buildMskEvent(parts, {
      bootstrapServers,
      eventSourceArn:
        definition.eventSourceArn ?? `arn:aws:kafka:local:000000000000:cluster/offline-kafka/${definition.functionKey}`,
    });
  }

  /** One invocation, failed when it throws or runs past the function timeout (a late finish is harmless: at least once). */
  private async invokeOnce(parts: BatchPart[]): Promise<unknown> {
    const { definition, stats, log, emit } = this.options;
    const event = this.eventOf(parts);
    const count = recordCount(parts);
    const started = performance.now();
    emit("InvokedEventCount", count);
    const result = await withTimeout(
      this.options.invoke(event),
      this.options.functionTimeoutMs,
      `function "${definition.functionKey}"`,
    );
    stats.batches += 1;
    stats.records += count;
    log.debug({ count, partitions: describeParts(parts), ms: Math.round(performance.now() - started) }, "batch delivered");
    return result;
  }

  private async afterFailure(parts: BatchPart[], error: unknown, attempt: number, token: object): Promise<FailureVerdict> {
    const { stats, log, emit } = this.options;
    stats.failedAttempts += 1;
    emit("FailedInvokeEventCount", recordCount(parts));
    if (error instanceof FunctionTimeoutError) stats.timeouts += 1;
    if (error instanceof BatchItemFailuresError) stats.partialFailures += 1;
    if (this.options.isOutage(error)) return this.holdThroughOutage(parts, error, attempt, token);
    const delayMs = backoffDelay(attempt, this.options.retry);
    const stopping = this.options.isStopping();
    log.error(
      {
        error: this.options.describeError(error),
        // The stack once per batch, for a defect's where; repeats carry only the description.
        ...(attempt === 1 && error instanceof Error ? { stack: error.stack } : {}),
        count: recordCount(parts),
        partitions: describeParts(parts),
        attempt,
        retryInMs: stopping ? null : delayMs,
      },
      "handler failed; offsets not committed (the batch is retried, bisected or given up on, as the settings say)",
    );
    const consumer = this.options.consumer();
    if (stopping || !consumer) return "stopped";
    const verdict = await this.options.waitBeforeRetry({
      error,
      attempt,
      delayMs,
      signal: this.options.signal,
      partitions: parts.map(({ topic, partition }) => ({ topic, partition })),
      consumer,
    });
    return this.options.isStopping() ? "stopped" : verdict;
  }

  /**
   * An outage (the isOutage hook said so): not the records' fault, so the attempt counts toward nothing and
   * the batch is not bisected. Its partitions are paused for a capped backoff, then the same batch is invoked
   * again, for as long as it takes; the member keeps heart-beating, so it keeps its partitions. Logged once
   * per change of state (OutageLog), never once per attempt.
   */
  private async holdThroughOutage(parts: BatchPart[], error: unknown, attempt: number, token: object): Promise<FailureVerdict> {
    this.options.stats.outageAttempts += 1;
    const consumer = this.options.consumer();
    if (this.options.isStopping() || !consumer) return "stopped";
    const cause = this.options.describeError(error);
    this.outage.hold(token, recordCount(parts), cause, describeParts(parts));
    const delayMs = Math.min(backoffDelay(attempt, this.options.retry), this.options.outageMaxDelayMs);
    this.options.log.debug({ error: cause, attempt, retryInMs: delayMs }, "outage: batch held");
    const byTopic = new Map<string, Set<number>>();
    for (const { topic, partition } of parts) byTopic.set(topic, (byTopic.get(topic) ?? new Set()).add(partition));
    const topicPartitions = [...byTopic].map(([topic, set]) => ({ topic, partitions: [...set] }));
    consumer.pause(topicPartitions);
    try {
      await sleep(delayMs, undefined, { signal: this.options.signal }).catch(() => {});
    } finally {
      consumer.resume(topicPartitions);
    }
    return this.options.isStopping() ? "stopped" : "outage";
  }

  /** Retries exhausted: to the on-failure destination (until the broker takes them), or discarded with an error log. */
  private async giveUp(parts: BatchPart[], error: unknown, attempts: number): Promise<boolean> {
    const { stats, log, emit, destination, definition } = this.options;
    const count = recordCount(parts);
    const reason = failureReason(error);
    const where = { count, partitions: describeParts(parts), attempts, error: errorMessages(error) };
    if (error instanceof RecordAgeExceededError) stats.expired += count;
    if (!destination) {
      stats.discarded += count;
      emit("DroppedEventCount", count, { reason });
      log.error(where, "retries exhausted and no on-failure destination: records DISCARDED, offsets committed past them");
      return true;
    }
    for (let attempt = 1; !this.options.isStopping(); attempt += 1) {
      try {
        await destination.send(parts, {
          functionKey: definition.functionKey,
          error,
          attempts,
          eventSourceArn: definition.eventType === "kafka" ? undefined : definition.eventSourceArn,
          bootstrapServers: this.options.bootstrapServers,
        });
        stats.sentOnFailure += count;
        emit("DroppedEventCount", count, { reason });
        emit("OnFailureDestinationDeliveredEventCount", count, { reason });
        log.warn(
          { ...where, destination: `kafka://${destination.topic}` },
          "retries exhausted: records sent to the on-failure destination",
        );
        return true;
      } catch (sendError) {
        const delayMs = backoffDelay(attempt, this.options.retry);
        log.error(
          { ...where, err: sendError, retryInMs: delayMs },
          "on-failure destination refused the records; nothing committed, trying again",
        );
        await sleep(delayMs, undefined, { signal: this.options.signal }).catch(() => {});
      }
    }
    return false;
  }
}
