import { setTimeout as sleep } from "node:timers/promises";
import type { Consumer } from "kafkajs";
import { logger } from "../../lib/logger.js";

const log = logger.child({ component: "offline-kafka" });

export interface RetryOptions {
  initialDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryOptions = { initialDelayMs: 250, maxDelayMs: 30_000 };

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

/**
 * How the poller waits before it invokes a failed batch again; the batch stays in memory, uncommitted,
 * meanwhile. Resolves "outage" when the failure came from a dependency being down: such an attempt counts
 * neither toward maximumRetryAttempts nor as a reason to bisect (an outage is not poison).
 */
export type WaitBeforeRetry = (context: RetryContext) => Promise<"failure" | "outage">;

export function backoffDelay(attempt: number, { initialDelayMs, maxDelayMs }: RetryOptions): number {
  return Math.min(initialDelayMs * 2 ** Math.max(0, attempt - 1), maxDelayMs);
}

/** The default policy: sleep the backoff delay (cut short when the poller stops). */
export const sleepBackoff: WaitBeforeRetry = async ({ delayMs, signal }) => {
  await sleep(delayMs, undefined, { signal }).catch(() => {});
  return "failure";
};

/** "message <- cause message <- ...": enough to tell a database outage from a bug without the stack. */
export function errorMessages(error: unknown): string {
  const messages: string[] = [];
  for (let current = error; current instanceof Error && messages.length < 4; current = current.cause) {
    messages.push(current.message.split("\n")[0] ?? "");
  }
  return messages.length ? messages.join(" <- ") : String(error);
}

export interface PauseWhileDownOptions {
  /** The dependency's name in logs, e.g. "database". */
  dependency: string;
  /** Resolves true when the dependency answers (e.g. `select 1`); must not throw. */
  probe: () => Promise<boolean>;
  /** The longest wait between two probes while the dependency is down. */
  maxProbeIntervalMs?: number;
}

/**
 * A KafkaPoller `waitBeforeRetry` policy for a handler that failed because a dependency (the database)
 * is down: that is an outage, not poison, so the batch is neither dead-lettered nor skipped.
 * - The dependency answers: the failure was something else ("failure"); wait the usual backoff.
 * - It does not ("outage": the attempt is not counted and the batch not bisected): pause the failed batch's
 *   partitions (nothing more is fetched for them), probe with capped backoff until it answers, resume
 *   them, and let the poller retry the batch at once.
 * The batch stays in memory and uncommitted meanwhile, and the poller keeps heart-beating, so the
 * member keeps its partitions however long the outage lasts; a crash meanwhile redelivers from the
 * last commit.
 */
export function pauseWhileDown({ dependency, probe, maxProbeIntervalMs = 1_000 }: PauseWhileDownOptions): WaitBeforeRetry {
  return async ({ attempt, delayMs, signal, partitions, consumer }: RetryContext) => {
    if (await probe()) {
      await sleep(delayMs, undefined, { signal }).catch(() => {});
      return "failure";
    }
    const byTopic = new Map<string, number[]>();
    for (const { topic, partition } of partitions) byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition]);
    const topicPartitions = [...byTopic].map(([topic, list]) => ({ topic, partitions: [...new Set(list)] }));
    const started = performance.now();
    consumer.pause(topicPartitions);
    log.warn({ dependency, attempt, partitions: topicPartitions }, "dependency down: partitions paused until it answers");
    try {
      for (let probeAttempt = 1; !signal.aborted; probeAttempt += 1) {
        const waitMs = Math.min(Math.max(delayMs, 100) * 2 ** Math.min(probeAttempt - 1, 10), maxProbeIntervalMs);
        await sleep(waitMs, undefined, { signal }).catch(() => {});
        if (signal.aborted) break;
        if (await probe()) {
          log.info(
            { dependency, partitions: topicPartitions, downMs: Math.round(performance.now() - started), probes: probeAttempt },
            "dependency answers again: partitions resumed, retrying the batch",
          );
          break;
        }
      }
    } finally {
      consumer.resume(topicPartitions);
    }
    return "outage";
  };
}
