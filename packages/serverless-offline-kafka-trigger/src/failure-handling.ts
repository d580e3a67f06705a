import type { BatchPart } from "./batcher.js";
import type { KafkaEventDefinition } from "./event-definition.js";

/**
 * Lambda's error handling for a Kafka event source mapping
 * (https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html), applied to one batch:
 * - a record older than maximumRecordAgeInSeconds (by its timestamp) is not invoked: it goes to the
 *   on-failure destination (discarded without one), checked before every attempt;
 * - a failed invocation is retried, at most maximumRetryAttempts times (-1: forever; with an on-failure
 *   destination Lambda caps "forever" at 10);
 * - with ReportBatchItemFailures the function may answer `{ batchItemFailures: [{ itemIdentifier:
 *   { partition: "<topic>-<n>", offset } }] }`: only the records named are retried (a failure of those);
 *   an identifier in any other shape, or naming no record of the batch, fails the whole batch;
 * - with bisectBatchOnFunctionError a failed batch of several records is split in two at once and each half
 *   is handled the same way, oldest half first, until the failing record is alone;
 * - a batch given up on goes to the on-failure destination, or is discarded without one.
 * A failure the retry policy blames on an outage (the database down) is neither counted nor bisected.
 * The batch settles only when every record in it was delivered, sent to the destination or discarded, so
 * committing its end never skips a record that is nowhere.
 */
export type FailureSettings = Pick<
  KafkaEventDefinition,
  | "maximumRetryAttempts"
  | "bisectBatchOnFunctionError"
  | "onFailureTopic"
  | "maximumRecordAgeInSeconds"
  | "reportBatchItemFailures"
>;

export const DEFAULT_FAILURE_SETTINGS: FailureSettings = {
  maximumRetryAttempts: -1,
  bisectBatchOnFunctionError: false,
  onFailureTopic: undefined,
  maximumRecordAgeInSeconds: -1,
  reportBatchItemFailures: false,
};

/** Lambda: "When you configure both infinite retries and an on-failure destination, Lambda automatically applies a maximum of 10 retry attempts." */
export const RETRIES_WITH_DESTINATION = 10;

/** Records past maximumRecordAgeInSeconds: given up on without an invocation. */
export class RecordAgeExceededError extends Error {
  override name = "RecordAgeExceededError";
}

/** The function answered with batchItemFailures naming these records (ReportBatchItemFailures). */
export class BatchItemFailuresError extends Error {
  override name = "BatchItemFailuresError";
}

/** The function's batchItemFailures could not be read: the whole batch counts as failed. */
export class MalformedBatchItemFailuresError extends Error {
  override name = "MalformedBatchItemFailuresError";
}

/** The retries that apply: -1 (forever), or a count. */
export function effectiveRetryAttempts({
  maximumRetryAttempts,
  onFailureTopic,
}: Pick<FailureSettings, "maximumRetryAttempts" | "onFailureTopic">): number {
  return maximumRetryAttempts === -1 && onFailureTopic !== undefined ? RETRIES_WITH_DESTINATION : maximumRetryAttempts;
}

/** What the retry policy made of a failure: an ordinary one, a dependency outage (not counted), or the poller stopping. */
export type FailureVerdict = "failure" | "outage" | "stopped";

export interface FailureSteps {
  /** One invocation with these records as one event, resolving with what the function returned; rejects when it failed or timed out. */
  invoke(parts: BatchPart[]): Promise<unknown>;
  /** Logs the failure and waits before the next try (backoff, or paused until the database answers). */
  afterFailure(parts: BatchPart[], error: unknown, attempt: number): Promise<FailureVerdict>;
  /** Sends the records to the destination or discards them; false if the poller stopped before it could. */
  giveUp(parts: BatchPart[], error: unknown, attempts: number): Promise<boolean>;
  /** Called when a failed batch is split, with its two halves. */
  onBisect?(halves: [BatchPart[], BatchPart[]]): void;
  /** The clock records' ages are read against (epoch ms); Date.now by default. */
  now?(): number;
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

/** Splits the records by `keep`, keeping partition groups and order; parts left empty are dropped. */
function partition(
  parts: BatchPart[],
  keep: (part: BatchPart, message: BatchPart["messages"][number]) => boolean,
): [BatchPart[], BatchPart[]] {
  const kept: BatchPart[] = [];
  const rest: BatchPart[] = [];
  for (const part of parts) {
    const yes = part.messages.filter((message) => keep(part, message));
    const no = part.messages.filter((message) => !keep(part, message));
    if (yes.length) kept.push({ ...part, messages: yes });
    if (no.length) rest.push({ ...part, messages: no });
  }
  return [kept, rest];
}

/**
 * The records a ReportBatchItemFailures answer names: undefined when none failed (no or an empty
 * `batchItemFailures`), or throws MalformedBatchItemFailuresError when an identifier is not
 * `{ partition: "<topic>-<partition>", offset: <number> }` of a record in `parts`.
 */
export function failedItems(parts: BatchPart[], result: unknown): BatchPart[] | undefined {
  if (result === null || typeof result !== "object" || !("batchItemFailures" in result)) return undefined;
  const failures = (result as { batchItemFailures: unknown }).batchItemFailures;
  if (failures === null || failures === undefined) return undefined;
  if (!Array.isArray(failures)) throw new MalformedBatchItemFailuresError("batchItemFailures is not a list");
  if (failures.length === 0) return undefined;
  const named = new Set<string>();
  const present = new Set(
    parts.flatMap((part) => part.messages.map((message) => `${part.topic}-${part.partition}@${message.offset}`)),
  );
  for (const failure of failures) {
    const identifier = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier as
      | { partition?: unknown; offset?: unknown }
      | undefined;
    const { partition: name, offset } = identifier ?? {};
    const key = `${String(name)}@${String(offset)}`;
    if (typeof name !== "string" || typeof offset !== "number" || !Number.isSafeInteger(offset) || !present.has(key))
      throw new MalformedBatchItemFailuresError(
        `batchItemFailures: ${JSON.stringify(failure)} is not { itemIdentifier: { partition: "<topic>-<partition>", offset } } of a record in the batch`,
      );
    named.add(key);
  }
  return partition(parts, (part, message) => named.has(`${part.topic}-${part.partition}@${message.offset}`))[0];
}

/** Settles one batch as Lambda would: true once every record is delivered or given up on, false if the poller stopped. */
export async function settleBatch(parts: BatchPart[], settings: FailureSettings, steps: FailureSteps): Promise<boolean> {
  const retries = effectiveRetryAttempts(settings);
  const now = steps.now ?? Date.now;
  let current = parts;
  let counted = 0;
  for (let attempt = 1; ; attempt += 1) {
    if (settings.maximumRecordAgeInSeconds !== -1) {
      const oldest = now() - settings.maximumRecordAgeInSeconds * 1000;
      const [expired, fresh] = partition(current, (_, message) => Number(message.timestamp) < oldest);
      if (expired.length > 0) {
        const error = new RecordAgeExceededError(
          `older than maximumRecordAgeInSeconds (${settings.maximumRecordAgeInSeconds} s)`,
        );
        if (!(await steps.giveUp(expired, error, attempt - 1))) return false;
        current = fresh;
        if (current.length === 0) return true;
      }
    }
    let failure: unknown;
    let failed = current;
    try {
      const result = await steps.invoke(current);
      const named = settings.reportBatchItemFailures ? failedItems(current, result) : undefined;
      if (!named) return true;
      failed = named;
      failure = new BatchItemFailuresError(
        `the function reported ${recordCount(named)} of ${recordCount(current)} records failed`,
      );
    } catch (error) {
      failure = error;
    }
    const verdict = await steps.afterFailure(failed, failure, attempt);
    if (verdict === "stopped") return false;
    current = failed;
    if (verdict === "outage") continue;
    counted += 1;
    if (settings.bisectBatchOnFunctionError && recordCount(current) > 1) {
      const halves = bisect(current);
      steps.onBisect?.(halves);
      return (await settleBatch(halves[0], settings, steps)) && settleBatch(halves[1], settings, steps);
    }
    if (retries !== -1 && counted > retries) return steps.giveUp(current, failure, attempt);
  }
}
