/**
 * The domain's errors: plain typed classes named for what went wrong, with no HTTP in them. The HTTP
 * layer decides statuses in one table (lib/http/problem.ts); the consumer and scripts read them as they are.
 */
import { z } from "zod";

/** One thing wrong with an input: where (a body path like "[3].amount", a query parameter) and why. */
export const FieldIssue = z.strictObject({
  field: z
    .string()
    .meta({ description: 'Where: a body path ("amount", "[3].amount") or a parameter name; "$" is the value itself.' }),
  reason: z.string(),
});
export type FieldIssue = z.infer<typeof FieldIssue>;

/** Where invalid input came from: a body that parses but is wrong, or a bad query, path or header. */
export type InputLocation = "body" | "query" | "path" | "header";

/** The base of every error this project throws on purpose. */
export class TxlogError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Input that does not satisfy its schema; `issues` name each field and reason. */
export class InvalidInputError extends TxlogError {
  readonly location: InputLocation;
  readonly issues: FieldIssue[];
  constructor(location: InputLocation, issues: FieldIssue[], message?: string) {
    super(message ?? (location === "body" ? "the request body is invalid" : `invalid ${location} parameters`));
    this.location = location;
    this.issues = issues;
  }
}

/** Nothing is stored under the name or id asked for (yet). */
export class NotFoundError extends TxlogError {}

/**
 * The transaction was accepted but will not be stored as it is: the consumer dead-lettered its record
 * (invalid, refused by the database, or conflicting with a stored id), with this reason.
 */
export class TransactionDeadLetteredError extends TxlogError {
  readonly issues: FieldIssue[];
  constructor(
    readonly transactionId: string,
    readonly reason: string,
    readonly detail: string,
    readonly at: Date,
  ) {
    super(
      `transaction ${transactionId} was not stored: its record was dead-lettered at ${at.toISOString()} (${reason}: ${detail})`,
    );
    this.issues = [{ field: "id", reason: `dead-lettered: ${reason}` }];
  }
}

/** An Idempotency-Key was used before with a different request body. */
export class IdempotencyConflictError extends TxlogError {
  readonly issues: FieldIssue[];
  constructor(header: string) {
    super(`this ${header} was already used with a different request; use a new key for a new request`);
    this.issues = [{ field: header, reason: "already used with a different request body" }];
  }
}

/** The first request with an Idempotency-Key is still being produced; the retry should wait. */
export class RequestInFlightError extends TxlogError {
  readonly retryAfterSeconds: number;
  constructor(header: string, retryAfterSeconds: number) {
    super(`a request with this ${header} is still being processed; retry shortly`);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** Kafka did not acknowledge in time or refused: nothing was accepted, the client may retry. */
export class TransactionLogUnavailableError extends TxlogError {}

/**
 * This process already holds as many messages waiting to be produced as it may (MAX_PENDING_PRODUCE_MESSAGES):
 * refused at once, nothing was sent; the client retries after `retryAfterSeconds`.
 */
export class ProduceQueueFullError extends TxlogError {
  readonly limit: number;
  readonly retryAfterSeconds: number;
  constructor(limit: number, retryAfterSeconds: number) {
    super(`more than ${limit} messages are waiting to be produced to Kafka`);
    this.limit = limit;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** Something did not answer within its budget. */
export class TimeoutError extends TxlogError {
  readonly ms: number;
  constructor(what: string, ms: number) {
    super(`${what} took longer than ${ms} ms`);
    this.ms = ms;
  }
}

/** A dependency the code needs (the database, the broker) did not answer or could not serve: an outage, never the data's fault. */
export type Dependency = "database" | "kafka";

/**
 * A dependency could not do its part right now: connection lost or refused, a statement or lock timeout, too
 * many connections, a disk full, a restart. The same request or batch succeeds once it is back, so it is
 * retried (never dead-lettered); reads answer 503. `reason` is safe to log and show: a SQLSTATE or error code
 * with the server's own words, never the statement's values.
 */
export class DependencyUnavailableError extends TxlogError {
  readonly dependency: Dependency;
  readonly reason: string;
  readonly retryAfterSeconds: number;
  constructor(dependency: Dependency, reason: string, retryAfterSeconds = 5) {
    super(`the ${dependency} is unavailable: ${reason}`);
    this.dependency = dependency;
    this.reason = reason;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}
