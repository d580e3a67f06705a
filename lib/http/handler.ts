import middy from "@middy/core";
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from "aws-lambda";
import { config } from "../config.js";
import { releaseClients } from "../lifecycle.js";
import { jsonBody } from "./json-body.js";
import { httpMetrics } from "./metrics.js";
import { problemResponder } from "./middleware.js";

/** Under `sls invoke local` (one invocation per process) release the clients after the request; elsewhere keep them warm. */
const lifecycle = config.IS_LOCAL ? { requestEnd: releaseClients } : {};

/** An API Gateway (REST, `http` event) request after the JSON body step: `body` is whatever JSON held. */
export type JsonEvent = Omit<APIGatewayProxyEvent, "body"> & { body: unknown };

export type HttpHandler<TEvent> = (event: TEvent, context: Context) => Promise<APIGatewayProxyResult>;

/**
 * A JSON-body route: 413 over `maxBodyBytes`, 400 without a body, 415 without a JSON content type,
 * 400 for unparseable JSON, then `handler`; anything thrown becomes a problem response (lib/http/problem.ts).
 * Every answer is counted and timed (lib/http/metrics.ts).
 */
export function jsonBodyRoute(options: { maxBodyBytes: number }, handler: HttpHandler<JsonEvent>) {
  return middy<APIGatewayProxyEvent, APIGatewayProxyResult>(lifecycle)
    .use(httpMetrics())
    .use(problemResponder())
    .use(jsonBody(options.maxBodyBytes))
    .handler(handler as unknown as HttpHandler<APIGatewayProxyEvent>);
}

/** A route without a body (GET): only the metrics and error middlewares. */
export function route(handler: HttpHandler<APIGatewayProxyEvent>) {
  return middy<APIGatewayProxyEvent, APIGatewayProxyResult>(lifecycle)
    .use(httpMetrics())
    .use(problemResponder())
    .handler(handler);
}

export function jsonResponse(statusCode: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyResult {
  return { statusCode, headers: { "Content-Type": "application/json", ...headers }, body: JSON.stringify(body) };
}

/** A text body of another media type (text/csv). */
export function textResponse(
  statusCode: number,
  contentType: string,
  body: string,
  headers: Record<string, string> = {},
): APIGatewayProxyResult {
  return { statusCode, headers: { "Content-Type": contentType, ...headers }, body };
}
