import { setTimeout as sleep } from "node:timers/promises";
import type { Consumer } from "kafkajs";

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
 * meanwhile. Resolving "outage" makes the attempt count neither toward maximumRetryAttempts nor as a reason
 * to bisect (PollerOptions.isOutage is the usual way to say a failure is an outage).
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
