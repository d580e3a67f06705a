import { OpenAPIRegistry, OpenApiGeneratorV31, type ResponseConfig, type RouteConfig } from "@asteasolutions/zod-to-openapi";
import type { OpenAPIObject } from "openapi3-ts/oas31";
import { z } from "zod";
import { config } from "../config.js";
import { DASHBOARD_ASSETS } from "../dashboard/assets.js";
import { HEALTH_CACHE_MS, HealthResponse } from "../health.js";
import { API_KEY_HEADER } from "../http/api-key.js";
import { BROKER_RETRY_AFTER_SECONDS } from "../http/problem.js";
import { IDEMPOTENCY_KEY_HEADER, IN_FLIGHT_RETRY_AFTER_SECONDS, MAX_IDEMPOTENCY_KEY_LENGTH } from "../idempotency.js";
import { PipelineStats } from "../pipeline/stats.js";
import { ReportsQuery } from "../reports/list.js";
import { SUMMARY_CACHE_MS, SummaryQuery, SummaryResponse } from "../reports/summary.js";
import { TransactionInput } from "../transaction.js";
import { Accepted, BulkAccepted, Problem, ReportPage, StoredTransaction, TransactionIdParams } from "./api-schemas.js";

/** The document's info.version: the package's version (a unit test keeps them equal; lib/ reads no file outside itself). */
export const API_VERSION = "0.1.0";

/**
 * The OpenAPI 3.1 document of the HTTP API, generated from the zod schemas the handlers validate and
 * answer with, so it cannot drift from them. Examples are realistic PaySim rows; each sits next to
 * the zod schema it illustrates (`documentedRoutes`), and a test parses every one with it.
 */

export const API_KEY_SCHEME = "ApiKey";

const registry = new OpenAPIRegistry();

registry.registerComponent("securitySchemes", API_KEY_SCHEME, {
  type: "apiKey",
  in: "header",
  name: API_KEY_HEADER,
  description:
    "API Gateway API key (the functions are `private: true`). Locally, serverless-offline checks it too. " +
    "This page never shows it: enter it under Authorize (locally, `npm start` prints it in its terminal).",
});

// Components are named with zod's own .meta({ id }), which zod-to-openapi reads: its .openapi() and
// registry.register() only work on schemas created after extendZodWithOpenApi, and ours are created
// by the modules that validate with them.
const TransactionInputRef = TransactionInput.meta({
  id: "TransactionInput",
  description:
    "One PaySim transaction (the 11 columns). Money fields accept JSON numbers or decimal strings, E-notation " +
    'included ("1.916920493E7"), at most 2 decimal places and 16 integer digits, never negative; they are ' +
    "stored exactly as NUMERIC(18, 2). isFraud and isFlaggedFraud accept 0, 1, true or false (default false).",
});
const ProblemRef = Problem.meta({ id: "Problem" });
const AcceptedRef = Accepted.meta({ id: "Accepted" });
const BulkAcceptedRef = BulkAccepted.meta({ id: "BulkAccepted" });
const StoredTransactionRef = StoredTransaction.meta({ id: "StoredTransaction" });
const ReportPageRef = ReportPage.meta({ id: "ReportPage" });
const SummaryRef = SummaryResponse.meta({ id: "Summary" });
/** What API Gateway (and serverless-offline) answer without a valid key, before any handler runs. */
const GatewayMessageRef = z.strictObject({ message: z.string() }).meta({ id: "GatewayMessage" });

/** A JSON body: the zod schema and an example that test/unit/openapi.test.ts parses with it. */
function json<T extends z.ZodType>(schema: T, example: z.input<T>) {
  return { content: { "application/json": { schema, example } } };
}

function problem(description: string, example: z.input<typeof Problem>): ResponseConfig {
  return { description, ...json(ProblemRef, example) };
}

// Examples: real PaySim rows (step 1 of the published data set).
const paysimPayment = {
  step: 1,
  type: "PAYMENT",
  amount: 9839.64,
  nameOrig: "C1231006815",
  oldbalanceOrg: 170136.0,
  newbalanceOrig: 160296.36,
  nameDest: "M1979787155",
  oldbalanceDest: 0,
  newbalanceDest: 0,
  isFraud: 0,
  isFlaggedFraud: 0,
} satisfies z.input<typeof TransactionInput>;
const paysimFraudTransfer = {
  step: 1,
  type: "TRANSFER",
  amount: "181.0",
  nameOrig: "C1305486145",
  oldbalanceOrg: "181.0",
  newbalanceOrig: "0.0",
  nameDest: "C553264065",
  oldbalanceDest: "0.0",
  newbalanceDest: "0.0",
  isFraud: 1,
  isFlaggedFraud: 0,
} satisfies z.input<typeof TransactionInput>;
const paysimTransferENotation = {
  step: 1,
  type: "TRANSFER",
  amount: "379856.23",
  nameOrig: "C1449772539",
  oldbalanceOrg: "0.0",
  newbalanceOrig: "0.0",
  nameDest: "C1590550415",
  oldbalanceDest: "900180.0",
  newbalanceDest: "1.916920493E7",
  isFraud: false,
  isFlaggedFraud: false,
} satisfies z.input<typeof TransactionInput>;
const storedPayment = {
  id: "0197a5c2-6f3e-7b21-9c4d-5e8f1a2b3c4d",
  step: 1,
  type: "PAYMENT",
  amount: "9839.64",
  nameOrig: "C1231006815",
  oldbalanceOrg: "170136.00",
  newbalanceOrig: "160296.36",
  nameDest: "M1979787155",
  oldbalanceDest: "0.00",
  newbalanceDest: "0.00",
  isFraud: false,
  isFlaggedFraud: false,
  status: "Completed",
  receivedAt: "2025-06-18T09:30:12.345Z",
  persistedAt: "2025-06-18T09:30:12.912Z",
  kafka: { topic: "transactions", partition: 2, offset: 1841 },
} satisfies z.input<typeof StoredTransaction>;

const bodyErrors = {
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

const brokerUnavailable: ResponseConfig = {
  ...problem(
    "Kafka did not commit the transaction in time, or too many transactions are waiting to be written (MAX_PENDING_PRODUCE_MESSAGES); nothing was accepted. Retry after Retry-After seconds.",
    {
      status: 503,
      error: "Service Unavailable",
      message: "the transaction log is temporarily unavailable; retry later",
    },
  ),
  headers: z.object({ "Retry-After": z.string().meta({ example: String(BROKER_RETRY_AFTER_SECONDS) }) }),
};

const databaseUnavailable: ResponseConfig = {
  ...problem(
    `The database could not answer within the read budget (DATABASE_READ_TIMEOUT_MS, 2.5 s by default: a table locked, the server restarting or overloaded); the query was cancelled on the server. Retry after Retry-After seconds.`,
    {
      status: 503,
      error: "Service Unavailable",
      message:
        "the database is temporarily unavailable (SQLSTATE 57014: canceling statement due to statement timeout); retry later",
    },
  ),
  headers: z.object({ "Retry-After": z.string().meta({ example: "5" }) }),
};

const missingApiKey: ResponseConfig = {
  description: `No or an unknown ${API_KEY_HEADER} header (answered by API Gateway, before the function).`,
  ...json(GatewayMessageRef, { message: "Forbidden" }),
};

const HealthRef = HealthResponse.meta({ id: "Health" });

/** The optional Idempotency-Key request header of both POST routes and the answers it adds. */
const idempotencyKeyHeaders = z.object({
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

const idempotencyResponses = {
  409: {
    ...problem("The first request with this Idempotency-Key is still being accepted; retry after Retry-After seconds.", {
      status: 409,
      error: "Conflict",
      message: `a request with this ${IDEMPOTENCY_KEY_HEADER} is still being processed; retry shortly`,
    }),
    headers: z.object({ "Retry-After": z.string().meta({ example: String(IN_FLIGHT_RETRY_AFTER_SECONDS) }) }),
  },
};

const invalidQuery = (example: z.input<typeof Problem>) =>
  problem("A query parameter is invalid; `issues` names each one.", example);

/** Every route of serverless.yml except the Swagger UI assets (GET /docs/{file+}); the dashboard and pipeline routes are pushed below. */
export const documentedRoutes: RouteConfig[] = [
  {
    method: "post",
    path: "/transaction",
    operationId: "submitTransaction",
    tags: ["transactions"],
    summary: "Submit one transaction",
    description:
      "Validates the transaction, assigns a time-ordered id and answers 202 only after Kafka acknowledged it (acks=all). " +
      "The consumer stores it within seconds; poll the Location.",
    request: { headers: idempotencyKeyHeaders, body: { required: true, ...json(TransactionInputRef, paysimPayment) } },
    responses: {
      202: {
        ...json(AcceptedRef, { id: storedPayment.id, status: "Accepted" }),
        description: "Accepted: durably in Kafka, not yet stored.",
        headers: z.object({ Location: z.string().meta({ example: `/transactions/${storedPayment.id}` }) }),
      },
      ...bodyErrors,
      403: missingApiKey,
      ...idempotencyResponses,
      422: problem(
        "The JSON is a valid document but not a valid transaction (`issues` names each bad field and why), or the Idempotency-Key was already used with a different body.",
        {
          status: 422,
          error: "Unprocessable Content",
          message: "the request body is invalid",
          issues: [
            { field: "amount", reason: "must not be negative" },
            { field: "type", reason: 'Invalid option: expected one of "CASH_IN"|"CASH_OUT"|"DEBIT"|"PAYMENT"|"TRANSFER"' },
          ],
        },
      ),
      503: brokerUnavailable,
    },
  },
  {
    method: "post",
    path: "/transactions",
    operationId: "submitTransactions",
    tags: ["transactions"],
    summary: "Submit a batch of transactions",
    description: `All or nothing: every item is validated before any is produced. At most ${config.MAX_BULK_TRANSACTIONS} items.`,
    request: {
      headers: idempotencyKeyHeaders,
      body: {
        required: true,
        ...json(z.array(TransactionInputRef).min(1).max(config.MAX_BULK_TRANSACTIONS), [
          paysimPayment,
          paysimFraudTransfer,
          paysimTransferENotation,
        ]),
      },
    },
    responses: {
      202: {
        description: "All accepted: durably in Kafka, ids in the order of the request.",
        ...json(BulkAcceptedRef, {
          status: "Accepted",
          count: 3,
          ids: [
            "0197a5c2-6f3e-7b21-9c4d-5e8f1a2b3c4d",
            "0197a5c2-6f3e-7b21-9c4d-5e8f1a2b3c4e",
            "0197a5c2-6f3e-7b21-9c4d-5e8f1a2b3c4f",
          ],
        }),
      },
      ...bodyErrors,
      403: missingApiKey,
      ...idempotencyResponses,
      422: problem(
        "An item is invalid (fields are prefixed with the item's index), or the Idempotency-Key was already used with a different body; nothing was accepted.",
        {
          status: 422,
          error: "Unprocessable Content",
          message: "the request body is invalid",
          issues: [{ field: "[1].nameDest", reason: "required" }],
        },
      ),
      503: brokerUnavailable,
    },
  },
  {
    method: "get",
    path: "/transactions/{id}",
    operationId: "getTransaction",
    tags: ["transactions"],
    summary: "One stored transaction",
    request: { params: TransactionIdParams },
    responses: {
      200: { description: "The stored row.", ...json(StoredTransactionRef, storedPayment) },
      400: problem("The id is not a UUID.", {
        status: 400,
        error: "Bad Request",
        message: "invalid path parameters",
        issues: [{ field: "id", reason: "expected a UUID" }],
      }),
      403: missingApiKey,
      404: problem("Not stored (yet): accepted transactions appear within seconds.", {
        status: 404,
        error: "Not Found",
        message: `no transaction ${storedPayment.id} is stored (yet); accepted transactions appear within seconds`,
      }),
      410: problem(
        "Accepted, but its record was dead-lettered (invalid, refused by the database, or conflicting with a stored id): it will not appear unless the dead letter is redriven.",
        {
          status: 410,
          error: "Gone",
          message: `transaction ${storedPayment.id} was not stored: its record was dead-lettered at 2025-06-18T09:12:40.511Z (rejected: the database refused it: SQLSTATE 23514 (transactions.amount_limit))`,
          issues: [{ field: "id", reason: "dead-lettered: rejected" }],
        },
      ),
      503: databaseUnavailable,
    },
  },
  {
    method: "get",
    path: "/reports",
    operationId: "listTransactions",
    tags: ["reports"],
    summary: "Stored transactions, newest first",
    description: "Keyset pagination: pass the previous page's `nextCursor` as `cursor`. Filters combine with AND.",
    request: { query: ReportsQuery },
    responses: {
      200: { description: "One page.", ...json(ReportPageRef, { items: [storedPayment], nextCursor: null }) },
      400: invalidQuery({
        status: 400,
        error: "Bad Request",
        message: "invalid query parameters",
        issues: [{ field: "limit", reason: "at most 1000" }],
      }),
      403: missingApiKey,
      503: databaseUnavailable,
    },
  },
  {
    method: "get",
    path: "/reports/summary",
    operationId: "summarizeTransactions",
    tags: ["reports"],
    summary: "Totals over a filter",
    description:
      "Count and exact sum of amounts overall, by type, by status and per step, plus fraud and flagged-fraud volumes, " +
      "computed by PostgreSQL over the rows matching every given filter (step range inclusive). Identical requests " +
      `share one computation, and its answer for ${SUMMARY_CACHE_MS / 1000} s after it: a summary may be that much older than the rows.`,
    request: { query: SummaryQuery },
    responses: {
      200: {
        description: "The totals; sums are exact NUMERIC decimal strings.",
        ...json(SummaryRef, {
          filter: { stepFrom: 1, stepTo: 1, type: null, status: null },
          count: 4,
          amount: "12065.92",
          byType: [
            { type: "CASH_OUT", count: 1, amount: "181.00" },
            { type: "PAYMENT", count: 2, amount: "11703.92" },
            { type: "TRANSFER", count: 1, amount: "181.00" },
          ],
          byStatus: [{ status: "Historical", count: 4, amount: "12065.92" }],
          fraud: { count: 2, amount: "362.00" },
          flaggedFraud: { count: 0, amount: "0.00" },
          byStep: [{ step: 1, count: 4, amount: "12065.92" }],
        }),
      },
      400: invalidQuery({
        status: 400,
        error: "Bad Request",
        message: "invalid query parameters",
        issues: [{ field: "stepFrom", reason: "stepFrom must not be greater than stepTo" }],
      }),
      403: missingApiKey,
      503: databaseUnavailable,
    },
  },
  {
    method: "get",
    path: "/health",
    operationId: "getHealth",
    tags: ["health"],
    summary: "Whether Kafka and PostgreSQL answer",
    description:
      "A Kafka metadata request and `select 1`, in parallel, each bounded (2 s). Public, for load balancers and probes; " +
      `errors name a timeout or an error code, never hosts. One check answers every request for ${HEALTH_CACHE_MS / 1000} s ` +
      "(X-Checked-At: when it ran), so probes cost the dependencies nothing more.",
    security: [],
    responses: {
      200: {
        description: "Every dependency is up.",
        ...json(HealthRef, {
          status: "up",
          checks: { kafka: { status: "up", latencyMs: 3 }, database: { status: "up", latencyMs: 1 } },
        }),
      },
      503: {
        description: "A dependency is down; POSTs answer 503 while Kafka is.",
        ...json(HealthRef, {
          status: "down",
          checks: {
            kafka: { status: "down", latencyMs: 2000, error: "timed out after 2000 ms" },
            database: { status: "up", latencyMs: 1 },
          },
        }),
        headers: z.object({ "Retry-After": z.string().meta({ example: String(BROKER_RETRY_AFTER_SECONDS) }) }),
      },
    },
  },
  {
    method: "get",
    path: "/openapi.json",
    operationId: "getOpenApiDocument",
    tags: ["docs"],
    summary: "This document",
    security: [],
    responses: {
      200: { description: "The OpenAPI 3.1 document.", content: { "application/json": { schema: { type: "object" } } } },
    },
  },
  {
    method: "get",
    path: "/docs",
    operationId: "getSwaggerUi",
    tags: ["docs"],
    summary: "Swagger UI for this document",
    security: [],
    responses: { 200: { description: "An HTML page.", content: { "text/html": { schema: { type: "string" } } } } },
  },
];

const PipelineStatsRef = PipelineStats.meta({ id: "PipelineStats" });

const pipelineStatsExample = {
  at: "2025-06-18T09:30:14.002Z",
  topic: "transactions",
  health: {
    kafka: { status: "up", latencyMs: 3 },
    database: { status: "up", latencyMs: 1 },
    consumer: { status: "up", latencyMs: 4, groupId: "txlog-consume", state: "Stable", members: 1 },
  },
  throughput: {
    windowSeconds: 3,
    acceptedPerSecond: 351.7,
    storedPerSecond: 349.3,
    series: [
      { at: "2025-06-18T09:30:11.000Z", accepted: 352, stored: 340 },
      { at: "2025-06-18T09:30:12.000Z", accepted: 349, stored: 355 },
      { at: "2025-06-18T09:30:13.000Z", accepted: 354, stored: 353 },
    ],
  },
  lag: {
    topic: "transactions",
    groupId: "txlog-consume",
    total: 12,
    partitions: [
      { partition: 0, highWatermark: 18_412, committedOffset: 18_405, lag: 7 },
      { partition: 1, highWatermark: 17_980, committedOffset: 17_975, lag: 5 },
      { partition: 2, highWatermark: 18_133, committedOffset: 18_133, lag: 0 },
    ],
  },
  deadLetters: {
    total: 1,
    byReason: [{ reason: "undecodable", count: 1, lastAt: "2025-06-18T09:12:40.511Z" }],
    recent: [
      {
        id: 1,
        reason: "undecodable",
        detail: "not UTF-8 JSON: Unexpected token 'h', \"hello\" is not valid JSON",
        partition: 1,
        offset: 17_001,
        createdAt: "2025-06-18T09:12:40.511Z",
      },
    ],
  },
  deadLetterTopic: { topic: "transactions.dead-letter", messages: 1 },
  unavailable: {},
} satisfies z.input<typeof PipelineStats>;

documentedRoutes.push(
  {
    method: "get",
    path: "/pipeline/stats",
    operationId: "getPipelineStats",
    tags: ["pipeline"],
    summary: "What the dashboard shows: health, rates, lag, dead letters",
    description:
      "Kafka, PostgreSQL and the consumer group's health; accepted/s and stored/s per second over the last minute " +
      "(from the database); the consumer group's lag per partition (high watermark - committed offset); dead letters " +
      "of the transactions topic by reason, and the messages on the dead-letter topic. Each part is bounded (2 to 3 s); " +
      "a part whose dependency does not answer is null and `unavailable` says why.",
    responses: {
      200: { description: "The pipeline now.", ...json(PipelineStatsRef, pipelineStatsExample) },
      403: missingApiKey,
    },
  },
  {
    method: "get",
    path: "/metrics",
    operationId: "getMetrics",
    tags: ["pipeline"],
    summary: "Prometheus metrics",
    description:
      "This process's metrics in Prometheus' text format (prom-client): txlog_http_requests_total{method,route,status}, " +
      "txlog_handler_duration_seconds{handler}, txlog_produce_duration_seconds{outcome}, txlog_produced_messages_total, " +
      "txlog_consumer_batches_total{outcome}, txlog_consumer_records_total, txlog_records_stored_total, " +
      "txlog_records_duplicate_total, txlog_dead_letters_total{reason}, txlog_consumer_lag{topic,partition,group} " +
      "(read from Kafka at each scrape), and Node's process_* and nodejs_* metrics. `npm run worker` serves the same on " +
      "its own port (--metrics-port, default 9464).",
    responses: {
      200: {
        description: "The exposition.",
        content: {
          "text/plain; version=0.0.4; charset=utf-8": {
            schema: { type: "string" },
          },
        },
      },
      403: missingApiKey,
    },
  },
  {
    method: "get",
    path: "/",
    operationId: "getDashboard",
    tags: ["pipeline"],
    summary: "The pipeline dashboard",
    description:
      "An HTML page (public, like /docs): it asks for the API key once (kept in the tab's sessionStorage, never in the " +
      "page) and polls /pipeline/stats, /reports and /reports/summary with it. Every asset is served by this API.",
    security: [],
    responses: { 200: { description: "An HTML page.", content: { "text/html": { schema: { type: "string" } } } } },
  },
  {
    method: "get",
    path: "/dashboard/{file}",
    operationId: "getDashboardAsset",
    tags: ["pipeline"],
    summary: "The dashboard's script and style",
    security: [],
    request: { params: z.object({ file: z.enum(Object.keys(DASHBOARD_ASSETS) as [string, ...string[]]) }) },
    responses: {
      200: {
        description: "The bundled file.",
        content: { "text/javascript": { schema: { type: "string" } }, "text/css": { schema: { type: "string" } } },
      },
      404: problem("Not one of the dashboard's files.", {
        status: 404,
        error: "Not Found",
        message: "no dashboard asset favicon.ico (is the dashboard built? npm run build:dashboard)",
      }),
    },
  },
);

for (const route of documentedRoutes) registry.registerPath(route);

const generated = new OpenApiGeneratorV31(registry.definitions).generateDocument({
  openapi: "3.1.0",
  info: {
    title: "txlog: event-driven transaction log",
    version: API_VERSION,
    description:
      "POST a PaySim transaction: it is produced to Kafka, a consumer stores it in PostgreSQL, and the reports read it " +
      "back. Money is exact: decimal strings in, NUMERIC in the database, decimal strings out.",
  },
  security: [{ [API_KEY_SCHEME]: [] }],
  tags: [
    { name: "transactions", description: "Submit and look up transactions." },
    { name: "reports", description: "Read the stored log." },
    { name: "health", description: "Dependency status." },
    { name: "pipeline", description: "The dashboard, its figures and the Prometheus metrics." },
    { name: "docs", description: "This documentation." },
  ],
});

/**
 * The document with `servers` pointing at the API's base path, so "Try it out" calls the server that
 * served the page: "/" under serverless-offline, "/{stage}" behind API Gateway.
 */
export function openApiDocument(serverUrl = "/"): OpenAPIObject {
  return { ...generated, servers: [{ url: serverUrl }] };
}
