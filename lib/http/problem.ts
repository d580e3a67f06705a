import type { APIGatewayProxyResult } from "aws-lambda";
import { z } from "zod";
import {
  DependencyUnavailableError,
  FieldIssue,
  IdempotencyConflictError,
  InvalidInputError,
  NotFoundError,
  ProduceQueueFullError,
  RequestInFlightError,
  TransactionDeadLetteredError,
  TransactionLogUnavailableError,
} from "../errors.js";
import {
  HostNotAllowedError,
  MalformedJsonError,
  OriginNotAllowedError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
} from "./errors.js";

/** Seconds a client should wait before retrying while Kafka is unreachable. */
export const BROKER_RETRY_AFTER_SECONDS = 5;

/** The JSON body of every error response. */
export const Problem = z.strictObject({
  status: z.int().min(400).max(599),
  error: z.string().meta({ description: "The HTTP reason phrase." }),
  message: z.string(),
  issues: z.array(FieldIssue).optional().meta({ description: "Each bad field and why (400 and 422 only)." }),
});
export type Problem = z.infer<typeof Problem>;

const REASON_PHRASES: Record<number, string> = {
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  410: "Gone",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  421: "Misdirected Request",
  422: "Unprocessable Content",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** An error as the client sees it: status, the message it may read, issues and headers. */
export interface ProblemSpec {
  status: number;
  message: string;
  issues?: FieldIssue[];
  headers?: Record<string, string>;
}

/** A Middy (@middy/util createError) error: its status and whether its message may be shown. */
interface MiddyHttpError extends Error {
  statusCode: number;
  expose?: boolean;
}

const isMiddyHttpError = (error: unknown): error is MiddyHttpError =>
  error instanceof Error && typeof (error as Partial<MiddyHttpError>).statusCode === "number";

const INTERNAL: ProblemSpec = { status: 500, message: "internal error" };

/**
 * THE table: every error the code throws on purpose, and the status and headers it answers with.
 * Anything else is a 500 whose message is never shown (the cause is logged).
 */
export function problemOf(error: unknown): ProblemSpec {
  if (error instanceof InvalidInputError) {
    // A body that parses but is wrong is 422; a bad URL or header is 400.
    return { status: error.location === "body" ? 422 : 400, message: error.message, issues: error.issues };
  }
  if (error instanceof MalformedJsonError) return { status: 400, message: error.message };
  if (error instanceof NotFoundError) return { status: 404, message: error.message };
  // Gone: polling again will not make it appear (unless someone redrives the dead letter).
  if (error instanceof TransactionDeadLetteredError) return { status: 410, message: error.message, issues: error.issues };
  if (error instanceof RequestInFlightError) {
    return { status: 409, message: error.message, headers: { "Retry-After": String(error.retryAfterSeconds) } };
  }
  if (error instanceof OriginNotAllowedError) return { status: 403, message: error.message };
  if (error instanceof PayloadTooLargeError) return { status: 413, message: error.message };
  if (error instanceof UnsupportedMediaTypeError) return { status: 415, message: error.message };
  // 421 rather than 403: the request reached a server that is not the one its Host names, which no API key changes.
  if (error instanceof HostNotAllowedError) return { status: 421, message: error.message };
  if (error instanceof IdempotencyConflictError) return { status: 422, message: error.message, issues: error.issues };
  if (error instanceof ProduceQueueFullError) {
    return {
      status: 503,
      message: "too many transactions are waiting to be written; retry shortly",
      headers: { "Retry-After": String(error.retryAfterSeconds) },
    };
  }
  if (error instanceof DependencyUnavailableError) {
    return {
      status: 503,
      message: `the ${error.dependency} is temporarily unavailable (${error.reason}); retry later`,
      headers: { "Retry-After": String(error.retryAfterSeconds) },
    };
  }
  if (error instanceof TransactionLogUnavailableError) {
    return {
      status: 503,
      message: "the transaction log is temporarily unavailable; retry later",
      headers: { "Retry-After": String(BROKER_RETRY_AFTER_SECONDS) },
    };
  }
  // Middy's own middlewares: read their status and expose flag, as @middy/http-error-handler does.
  if (isMiddyHttpError(error)) {
    return { status: error.statusCode, message: error.expose ? error.message : INTERNAL.message };
  }
  return INTERNAL;
}

export function problemResponse(spec: ProblemSpec): APIGatewayProxyResult {
  const problem: Problem = { status: spec.status, error: REASON_PHRASES[spec.status] ?? "Error", message: spec.message };
  if (spec.issues?.length) problem.issues = spec.issues;
  return {
    statusCode: spec.status,
    headers: { "Content-Type": "application/json", ...spec.headers },
    body: JSON.stringify(problem),
  };
}
