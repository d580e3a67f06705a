import middy from "@middy/core";
import httpJsonBodyParser from "@middy/http-json-body-parser";
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from "aws-lambda";
import { config } from "../config.js";
import { closeDb } from "../db/client.js";
import { disconnectProducer } from "../kafka/client.js";
import { bodySizeLimit, problemResponder, requireBody } from "./middleware.js";

/**
 * `sls invoke local` runs one invocation and waits for the event loop to empty, which an open Kafka
 * or pg connection never lets happen (Lambda freezes the container instead). There, release them
 * after the request; everywhere else they stay open for the next invocation.
 */
const lifecycle = config.IS_LOCAL
  ? {
      requestEnd: async () => {
        await Promise.allSettled([disconnectProducer(), closeDb()]);
      },
    }
  : {};

/** An API Gateway (REST, `http` event) request after the JSON body parser: `body` is whatever JSON held. */
export type JsonEvent = Omit<APIGatewayProxyEvent, "body"> & { body: unknown };

export type HttpHandler<TEvent> = (event: TEvent, context: Context) => Promise<APIGatewayProxyResult>;

/**
 * A JSON-body route: 413 over `maxBodyBytes`, 400 without a body, 415 without a JSON content type,
 * 400 for unparseable JSON, then `handler`; anything thrown becomes a problem response (lib/http/middleware.ts).
 */
export function jsonBodyRoute(options: { maxBodyBytes: number }, handler: HttpHandler<JsonEvent>) {
  return middy<APIGatewayProxyEvent, APIGatewayProxyResult>(lifecycle)
    .use(problemResponder())
    .use(bodySizeLimit(options.maxBodyBytes))
    .use(requireBody())
    .use(httpJsonBodyParser())
    .handler(handler as unknown as HttpHandler<APIGatewayProxyEvent>);
}

/** A route without a body (GET): only the error middleware. */
export function route(handler: HttpHandler<APIGatewayProxyEvent>) {
  return middy<APIGatewayProxyEvent, APIGatewayProxyResult>(lifecycle).use(problemResponder()).handler(handler);
}

export function jsonResponse(statusCode: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyResult {
  return { statusCode, headers: { "Content-Type": "application/json", ...headers }, body: JSON.stringify(body) };
}
