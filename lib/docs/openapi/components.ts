import type { ResponseConfig } from "@asteasolutions/zod-to-openapi";
import { z } from "zod";
import { config } from "../../config.js";
import { HealthResponse } from "../../health-schema.js";
import { API_KEY_HEADER } from "../../http/api-key.js";
import { BROKER_RETRY_AFTER_SECONDS, Problem } from "../../http/problem.js";
import { IDEMPOTENCY_KEY_HEADER, IN_FLIGHT_RETRY_AFTER_SECONDS, MAX_IDEMPOTENCY_KEY_LENGTH } from "../../idempotency.js";
import { AcceptedResponse, BulkAcceptedResponse } from "../../ingest.js";
import { PipelineStats } from "../../pipeline/schemas.js";
import { ReportPage, StoredTransaction, SummaryResponse } from "../../reports/schemas.js";
import { TransactionInput } from "../../transaction.js";

/**
 * The document's named components and the responses several routes share. Components are named with zod's
 * own .meta({ id }), which zod-to-openapi reads: its .openapi() and registry.register() only work on schemas
 * created after extendZodWithOpenApi, and ours are created by the modules that validate with them.
 */

export const TransactionInputRef = TransactionInput.meta({
  id: "TransactionInput",
  description:
    "One PaySim transaction (the 11 columns). Money fields accept JSON numbers or decimal strings, E-notation " +
    'included ("1.916920493E7"), at most 2 decimal places and 16 integer digits, never negative; they are ' +
    "stored exactly as NUMERIC(18, 2). isFraud and isFlaggedFraud accept 0, 1, true or false (default false).",
});
const ProblemRef = Problem.meta({ id: "Problem" });
export const AcceptedRef = AcceptedResponse.meta({ id: "Accepted" });
export const BulkAcceptedRef = BulkAcceptedResponse.meta({ id: "BulkAccepted" });
export const StoredTransactionRef = StoredTransaction.meta({ id: "StoredTransaction" });
export const ReportPageRef = ReportPage.meta({ id: "ReportPage" });
export const SummaryRef = SummaryResponse.meta({ id: "Summary" });
/** What API Gateway (and serverless-offline) answer without a valid key, before any handler runs. */
const GatewayMessageRef = z.strictObject({ message: z.string() }).meta({ id: "GatewayMessage" });
export const HealthRef = HealthResponse.meta({ id: "Health" });
export const PipelineStatsRef = PipelineStats.meta({ id: "PipelineStats" });

/** A JSON body: the zod schema and an example that test/unit/openapi.test.ts parses with it. */
export function json<T extends z.ZodType>(schema: T, example: z.input<T>) {
  return { content: { "application/json": { schema, example } } };
}

export function problem(description: string, example: z.input<typeof Problem>): ResponseConfig {
  return { description, ...json(ProblemRef, example) };
}

/** A Retry-After header with its example. */
export const retryAfter = (seconds: number) => z.object({ "Retry-After": z.string().meta({ example: String(seconds) }) });

/** The 400, 413 and 415 answers of a route with a JSON body. */
export const bodyErrors = {
  400: problem("The body is not valid JSON, or the Idempotency-Key header is malformed (empty, too long, not printable ASCII).", {
    status: 400,
    error: "Bad Request",
    message: "the request body is not valid JSON: Unexpected end of JSON input",
  }),
  413: problem("The body is larger than the route's limit.", {
    status: 413,
    error: "Content Too Large",
    message: `the request body is 70214 bytes; the limit is ${config.MAX_BODY_BYTES}`,
  }),
  415: problem("The Content-Type is not application/json.", {
    status: 415,
    error: "Unsupported Media Type",
    message: "expected Content-Type: application/json, got text/plain",
  }),
};

export const brokerUnavailable: ResponseConfig = {
  ...problem(
    "Kafka did not commit the transaction in time, or too many transactions are waiting to be written (MAX_PENDING_PRODUCE_MESSAGES); nothing was accepted. Retry after Retry-After seconds.",
    {
      status: 503,
      error: "Service Unavailable",
      message: "the transaction log is temporarily unavailable; retry later",
    },
  ),
  headers: retryAfter(BROKER_RETRY_AFTER_SECONDS),
};

export const databaseUnavailable: ResponseConfig = {
  ...problem(
    `The database could not answer within the read budget (DATABASE_READ_TIMEOUT_MS, 2.5 s by default: a table locked, the server restarting or overloaded); the query was cancelled on the server. Retry after Retry-After seconds.`,
    {
      status: 503,
      error: "Service Unavailable",
      message:
        "the database is temporarily unavailable (SQLSTATE 57014: canceling statement due to statement timeout); retry later",
    },
  ),
  headers: retryAfter(5),
};

export const missingApiKey: ResponseConfig = {
  description: `No or an unknown ${API_KEY_HEADER} header (answered by API Gateway, before the function).`,
  ...json(GatewayMessageRef, { message: "Forbidden" }),
};

/** The optional Idempotency-Key request header of both POST routes. */
export const idempotencyKeyHeaders = z.object({
  [IDEMPOTENCY_KEY_HEADER]: z
    .string()
    .min(1)
    .max(MAX_IDEMPOTENCY_KEY_LENGTH + 2)
    .optional()
    .meta({
      description:
        `Makes retries safe (IETF httpapi Idempotency-Key draft): the same key and body answer the same id(s) and are stored once, ` +
        `however often sent; replays carry \`Idempotent-Replayed: true\`. The id is derived from the key and the API key ` +
        `(UUIDv5), not time-ordered: keys are scoped per API key, so another client's same key is another request. ` +
        `1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters, bare or as a quoted structured-field string ` +
        `(e.g. a UUID: 5f6c9c8e-3b0a-4d7e-9b8e-2f1c0a9d7e61). Keys do not expire.`,
    }),
});

/** What an Idempotency-Key adds to the POST routes' answers. */
export const idempotencyResponses = {
  409: {
    ...problem("The first request with this Idempotency-Key is still being accepted; retry after Retry-After seconds.", {
      status: 409,
      error: "Conflict",
      message: `a request with this ${IDEMPOTENCY_KEY_HEADER} is still being processed; retry shortly`,
    }),
    headers: retryAfter(IN_FLIGHT_RETRY_AFTER_SECONDS),
  },
};

export const invalidQuery = (example: z.input<typeof Problem>) =>
  problem("A query parameter is invalid; `issues` names each one.", example);
