import type { TriggerLogger } from "./logger.js";

/**
 * The poller's record of a dependency outage, logged once per change of state rather than once per attempt:
 * when the first batch is held, when the cause changes (another SQLSTATE or error code), and when the last
 * held batch went through, with how long it lasted and how many records waited.
 */
export class OutageLog {
  private readonly held = new Map<object, number>();
  private since = 0;
  private cause = "";
  private attempts = 0;

  constructor(private readonly log: TriggerLogger) {}

  private get recordsWaiting(): number {
    let records = 0;
    for (const count of this.held.values()) records += count;
    return records;
  }

  /** A batch (`token`, one per settling batch) failed for an outage described by `cause`. */
  hold(token: object, records: number, cause: string, partitions: unknown): void {
    this.attempts += 1;
    const first = this.held.size === 0;
    this.held.set(token, records);
    if (first) {
      this.since = performance.now();
      this.cause = cause;
      this.attempts = 1;
      this.log.warn(
        { cause, recordsWaiting: this.recordsWaiting, partitions },
        "dependency outage: batches held uncommitted, their partitions paused, retried with backoff until stored (never dead-lettered)",
      );
    } else if (cause !== this.cause) {
      this.log.warn(
        { cause, previousCause: this.cause, downMs: this.downMs(), recordsWaiting: this.recordsWaiting, attempts: this.attempts },
        "dependency outage continues with another cause",
      );
      this.cause = cause;
    }
  }

  /** The batch settled (stored, or the poller stopped); the outage is over when no batch is held any more. */
  release(token: object): void {
    if (!this.held.delete(token)) return;
    if (this.held.size === 0) {
      this.log.info(
        { cause: this.cause, downMs: this.downMs(), attempts: this.attempts },
        "dependency outage over: held batches went through",
      );
    }
  }

  private downMs(): number {
    return Math.round(performance.now() - this.since);
  }
}
