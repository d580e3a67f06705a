import type { MiddlewareObj, Request } from "@middy/core";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { metrics, observeHandler } from "../metrics.js";

type HttpRequest = Request<APIGatewayProxyEvent, APIGatewayProxyResult>;

/**
 * Counts every answered request by method, route and status, and times the handler. The route is API
 * Gateway's resource ("/transactions/{id}"; serverless-offline sets it the same way), never the raw path, so
 * ids do not multiply the series. Used before the error middleware, its onError runs after it: the status
 * is the problem response's.
 */
export function httpMetrics(): MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  const started = new WeakMap<HttpRequest, number>();
  const record = (request: HttpRequest) => {
    const method = request.event?.httpMethod ?? "UNKNOWN";
    const route = request.event?.resource ?? "unknown";
    const status = String(request.response?.statusCode ?? 500);
    metrics().httpRequests.inc({ method, route, status });
    const startedMs = started.get(request);
    if (startedMs !== undefined) observeHandler(`${method} ${route}`, startedMs);
  };
  return {
    name: "httpMetrics",
    before: (request) => {
      started.set(request, performance.now());
    },
    after: record,
    onError: record,
  };
}
