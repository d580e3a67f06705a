import { setTimeout as sleep } from "node:timers/promises";
import { logger } from "../logger.js";
import type { RetryContext } from "./poller.js";

const log = logger.child({ component: "offline-kafka" });

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
 * - The dependency answers: the failure was something else; wait the usual backoff.
 * - It does not: pause the failed batch's partitions (nothing more is fetched for them), probe with
 *   capped backoff until it answers, resume them, and let the poller retry the batch at once.
 * The batch stays in memory and uncommitted meanwhile, and the poller keeps heart-beating, so the
 * member keeps its partitions however long the outage lasts; a crash meanwhile redelivers from the
 * last commit.
 */
export function pauseWhileDown({ dependency, probe, maxProbeIntervalMs = 1_000 }: PauseWhileDownOptions) {
  return async ({ attempt, delayMs, signal, partitions, consumer }: RetryContext): Promise<void> => {
    if (await probe()) {
      await sleep(delayMs, undefined, { signal }).catch(() => {});
      return;
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
        if (signal.aborted) return;
        if (await probe()) {
          log.info(
            { dependency, partitions: topicPartitions, downMs: Math.round(performance.now() - started), probes: probeAttempt },
            "dependency answers again: partitions resumed, retrying the batch",
          );
          return;
        }
      }
    } finally {
      consumer.resume(topicPartitions);
    }
  };
}
