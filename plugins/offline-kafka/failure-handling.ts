import type { BatchPart } from "./batcher.js";
import type { KafkaEventDefinition } from "./event-definition.js";

/**
 * Lambda's error handling for a Kafka event source mapping
 * (https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html), applied to one batch:
 * - a failed invocation is retried, at most maximumRetryAttempts times (-1: forever; with an on-failure
 *   destination Lambda caps "forever" at 10);
 * - with bisectBatchOnFunctionError a failed batch of several records is split in two at once and each half
 *   is handled the same way, oldest half first, until the failing record is alone;
 * - a batch given up on goes to the on-failure destination, or is discarded without one.
 * A failure the retry policy blames on an outage (the database down) is neither counted nor bisected.
 * The batch settles only when every record in it was delivered, sent to the destination or discarded, so
 * committing its end never skips a record that is nowhere.
 */
export type FailureSettings = Pick<
  KafkaEventDefinition,
  "maximumRetryAttempts" | "bisectBatchOnFunctionError" | "onFailureTopic"
>;

export const DEFAULT_FAILURE_SETTINGS: FailureSettings = {
  maximumRetryAttempts: -1,
  bisectBatchOnFunctionError: false,
  onFailureTopic: undefined,
};

/** Lambda: "When you configure both infinite retries and an on-failure destination, Lambda automatically applies a maximum of 10 retry attempts." */
export const RETRIES_WITH_DESTINATION = 10;

/** The retries that apply: -1 (forever), or a count. */
export function effectiveRetryAttempts({ maximumRetryAttempts, onFailureTopic }: FailureSettings): number {
  return maximumRetryAttempts === -1 && onFailureTopic !== undefined ? RETRIES_WITH_DESTINATION : maximumRetryAttempts;
}

/** What the retry policy made of a failure: an ordinary one, a dependency outage (not counted), or the poller stopping. */
export type FailureVerdict = "failure" | "outage" | "stopped";

export interface FailureSteps {
  /** One invocation with these records as one event; rejects when the function failed or timed out. */
  invoke(parts: BatchPart[]): Promise<void>;
  /** Logs the failure and waits before the next try (backoff, or paused until the database answers). */
  afterFailure(parts: BatchPart[], error: unknown, attempt: number): Promise<FailureVerdict>;
  /** Sends the records to the destination or discards them; false if the poller stopped before it could. */
  giveUp(parts: BatchPart[], error: unknown, attempts: number): Promise<boolean>;
  /** Called when a failed batch is split, with its two halves. */
  onBisect?(halves: [BatchPart[], BatchPart[]]): void;
}

export function recordCount(parts: BatchPart[]): number {
  return parts.reduce((sum, part) => sum + part.messages.length, 0);
}

/** The first ceil(n/2) records and the rest, each still grouped by partition, in event order. */
export function bisect(parts: BatchPart[]): [BatchPart[], BatchPart[]] {
  let left = Math.ceil(recordCount(parts) / 2);
  const first: BatchPart[] = [];
  const second: BatchPart[] = [];
  for (const part of parts) {
    const take = Math.min(left, part.messages.length);
    left -= take;
    if (take > 0) first.push({ ...part, messages: part.messages.slice(0, take) });
    if (take < part.messages.length) second.push({ ...part, messages: part.messages.slice(take) });
  }
  return [first, second];
}

/** Settles one batch as Lambda would: true once every record is delivered or given up on, false if the poller stopped. */
export async function settleBatch(parts: BatchPart[], settings: FailureSettings, steps: FailureSteps): Promise<boolean> {
  const retries = effectiveRetryAttempts(settings);
  let counted = 0;
  for (let attempt = 1; ; attempt += 1) {
    let failure: unknown;
    try {
      await steps.invoke(parts);
      return true;
    } catch (error) {
      failure = error;
    }
    const verdict = await steps.afterFailure(parts, failure, attempt);
    if (verdict === "stopped") return false;
    if (verdict === "outage") continue;
    counted += 1;
    if (settings.bisectBatchOnFunctionError && recordCount(parts) > 1) {
      const halves = bisect(parts);
      steps.onBisect?.(halves);
      return (await settleBatch(halves[0], settings, steps)) && settleBatch(halves[1], settings, steps);
    }
    if (retries !== -1 && counted > retries) return steps.giveUp(parts, failure, attempt);
  }
}
