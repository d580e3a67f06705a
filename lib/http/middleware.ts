import type { MiddlewareObj } from "@middy/core";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { BrokerUnavailableError } from "../kafka/client.js";
import { logger } from "../logger.js";
import { type FieldIssue, HttpError, MalformedJsonError, PayloadTooLargeError, UnsupportedMediaTypeError } from "./errors.js";

const log = logger.child({ component: "http" });

/** Seconds a client should wait before retrying while Kafka is unreachable. */
export const BROKER_RETRY_AFTER_SECONDS = 5;

/** The JSON body of every error response. */
export interface Problem {
  status: number;
  error: string;
  message: string;
  issues?: FieldIssue[];
}

const REASON_PHRASES: Record<number, string> = {
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** The shape of @middy/util's HttpError, which Middy's own middlewares throw. */
interface MiddyHttpError extends Error {
  statusCode: number;
  expose: boolean;
  cause?: { package?: string; data?: unknown; message?: string };
}

function isMiddyHttpError(error: unknown): error is MiddyHttpError {
  return error instanceof Error && typeof (error as Partial<MiddyHttpError>).statusCode === "number";
}

/**
 * Everything a handler or middleware can throw, as one of our HttpErrors. @middy/http-json-body-parser
 * (v6) answers 415 for both a wrong content type and unparseable JSON; we keep 415 for the former and
 * answer 400 for the latter, so 415 always means "send application/json".
 */
export function toHttpError(error: unknown, event?: Pick<APIGatewayProxyEvent, "headers">): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof BrokerUnavailableError) {
    return new HttpError(503, "the transaction log is temporarily unavailable; retry later", {
      headers: { "Retry-After": String(BROKER_RETRY_AFTER_SECONDS) },
      cause: error,
      expose: true,
    });
  }
  if (isMiddyHttpError(error)) {
    if (error.cause?.package === "@middy/http-json-body-parser") {
      if (error.message === "Unsupported Media Type") return new UnsupportedMediaTypeError(contentTypeOf(event));
      return new MalformedJsonError(error.cause.message ?? "no body", error);
    }
    return new HttpError(error.statusCode, error.expose ? error.message : "internal error", { cause: error });
  }
  return new HttpError(500, "internal error", { cause: error });
}

export function contentTypeOf(event: Pick<APIGatewayProxyEvent, "headers"> | undefined): string | undefined {
  const headers = event?.headers ?? {};
  for (const [name, value] of Object.entries(headers)) if (name.toLowerCase() === "content-type") return value ?? undefined;
  return undefined;
}

export function problemResponse(error: HttpError): APIGatewayProxyResult {
  const problem: Problem = {
    status: error.status,
    error: REASON_PHRASES[error.status] ?? "Error",
    // 5xx never show internals: the cause is logged, the client gets the generic message.
    message: error.expose ? error.message : "internal error",
  };
  if (error.issues?.length) problem.issues = error.issues;
  return {
    statusCode: error.status,
    headers: { "Content-Type": "application/json", ...error.headers },
    body: JSON.stringify(problem),
  };
}

/** The one error middleware: any thrown error becomes a JSON problem response, logged once. */
export function problemResponder(): MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  return {
    name: "problemResponder",
    onError: (request) => {
      const httpError = toHttpError(request.error, request.event);
      const context = { method: request.event?.httpMethod, path: request.event?.path, status: httpError.status };
      if (httpError.status >= 500) log.error({ ...context, err: httpError.cause ?? httpError }, httpError.message);
      else log.debug({ ...context, issues: httpError.issues }, httpError.message);
      request.response = problemResponse(httpError);
    },
  };
}

/**
 * 413 before any parsing. serverless-offline (hapi) already caps bodies at 10 MB and API Gateway at
 * 10 MB too; our limits are far smaller and per route.
 */
export function bodySizeLimit(maxBytes: number): MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  return {
    name: "bodySizeLimit",
    before: (request) => {
      const { body, isBase64Encoded } = request.event;
      if (typeof body !== "string") return;
      // Cheap upper bound first: a UTF-8 string is at most 3 bytes per UTF-16 unit (or smaller when base64).
      if (body.length * 3 <= maxBytes) return;
      const bytes = Buffer.byteLength(body, isBase64Encoded ? "base64" : "utf8");
      if (bytes > maxBytes) throw new PayloadTooLargeError(bytes, maxBytes);
    },
  };
}

/**
 * 400 for a POST without a body: the JSON parser leaves an empty body as null, which would otherwise
 * reach validation as the JSON value null (422 "expected object, received null").
 */
export function requireBody(): MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  return {
    name: "requireBody",
    before: (request) => {
      const { body } = request.event;
      if (body === null || body === undefined || body === "") throw new MalformedJsonError("the body is empty");
    },
  };
}
