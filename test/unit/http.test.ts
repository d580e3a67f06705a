import type { APIGatewayProxyEvent, Context } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  IdempotencyConflictError,
  InvalidInputError,
  NotFoundError,
  RequestInFlightError,
  TransactionLogUnavailableError,
} from "../../lib/errors.js";
import { jsonBodyRoute, jsonResponse, route } from "../../lib/http/handler.js";
import { problemOf } from "../../lib/http/problem.js";
import { fieldPath, issuesFromZod } from "../../lib/validation.js";

/** The Middy chains run here with hand-made API Gateway events: no server, no network. */
function event(overrides: Partial<APIGatewayProxyEvent> = {}): APIGatewayProxyEvent {
  return {
    httpMethod: "POST",
    path: "/transaction",
    headers: { "content-type": "application/json" },
    body: "{}",
    isBase64Encoded: false,
    queryStringParameters: null,
    pathParameters: null,
    ...overrides,
  } as APIGatewayProxyEvent;
}

const context = { getRemainingTimeInMillis: () => 30_000 } as Context;

const echo = jsonBodyRoute({ maxBodyBytes: 1_024 }, async (request) => jsonResponse(200, { got: request.body }));

async function call(handler: typeof echo, request: APIGatewayProxyEvent) {
  const response = await handler(request, context);
  return { ...response, json: JSON.parse(response.body) as Record<string, unknown> };
}

describe("fieldPath", () => {
  it("names nested and indexed fields the way clients write them", () => {
    expect(fieldPath([3, "amount"])).toBe("[3].amount");
    expect(fieldPath(["a", "b"])).toBe("a.b");
    expect(fieldPath([])).toBe("$");
  });
});

describe("issuesFromZod", () => {
  const Schema = z.strictObject({ a: z.number(), b: z.union([z.number(), z.string()]), c: z.string().min(2) });

  it("says required, unknown field, which types a union takes, and passes other messages through", () => {
    const result = Schema.safeParse({ b: true, c: "x", d: 1 }, { reportInput: true });
    expect(result.success).toBe(false);
    expect(issuesFromZod((result as { error: z.ZodError }).error)).toEqual([
      { field: "a", reason: "required" },
      { field: "b", reason: "expected number or string" },
      { field: "c", reason: expect.stringMatching(/>=2/) },
      { field: "d", reason: "unknown field" },
    ]);
  });
});

describe("the JSON body route", () => {
  it("hands the parsed body to the handler", async () => {
    const response = await call(echo, event({ body: '{"x":[1,"2"]}' }));
    expect(response.statusCode).toBe(200);
    expect(response.json).toEqual({ got: { x: [1, "2"] } });
  });

  it("accepts application/json with a charset and +json types", async () => {
    expect((await call(echo, event({ headers: { "Content-Type": "application/json; charset=utf-8" } }))).statusCode).toBe(200);
    expect((await call(echo, event({ headers: { "content-type": "application/problem+json" } }))).statusCode).toBe(200);
  });

  it("answers 415 naming the content type sent, or none", async () => {
    const wrong = await call(echo, event({ headers: { "content-type": "text/plain" } }));
    expect(wrong.statusCode).toBe(415);
    expect(wrong.json).toEqual({
      status: 415,
      error: "Unsupported Media Type",
      message: expect.stringMatching(/got text\/plain/),
    });
    const none = await call(echo, event({ headers: {} }));
    expect(none.statusCode).toBe(415);
    expect(none.json.message).toMatch(/none sent/);
  });

  it("answers 400 for unparseable JSON, with the parser's reason", async () => {
    const response = await call(echo, event({ body: '{"a":' }));
    expect(response.statusCode).toBe(400);
    expect(response.json).toMatchObject({
      status: 400,
      error: "Bad Request",
      message: expect.stringMatching(/^the request body is not valid JSON: /),
    });
  });

  it("answers 413 over the limit in bytes (UTF-8, and decoded base64), at the limit passes", async () => {
    const atLimit = JSON.stringify({ s: "x".repeat(1_024 - 8) });
    expect(Buffer.byteLength(atLimit)).toBe(1_024);
    expect((await call(echo, event({ body: atLimit }))).statusCode).toBe(200);
    // 518 characters but 1,028 bytes: the limit counts UTF-8 bytes, not characters.
    const multiByte = JSON.stringify({ s: "é".repeat(510) });
    const tooLarge = await call(echo, event({ body: multiByte }));
    expect(tooLarge.statusCode).toBe(413);
    expect(tooLarge.json).toEqual({ status: 413, error: "Content Too Large", message: expect.stringMatching(/limit is 1024/) });
    const base64 = Buffer.from(atLimit).toString("base64");
    expect((await call(echo, event({ body: base64, isBase64Encoded: true }))).statusCode).toBe(200);
  });
});

describe("the one error middleware", () => {
  const failing = (error: unknown) =>
    route(async () => {
      throw error;
    });

  it("answers 422 with the issues for invalid input in a body, 400 for a query", async () => {
    const body = await call(failing(new InvalidInputError("body", [{ field: "amount", reason: "required" }])), event());
    expect(body.statusCode).toBe(422);
    expect(body.json).toEqual({
      status: 422,
      error: "Unprocessable Content",
      message: "the request body is invalid",
      issues: [{ field: "amount", reason: "required" }],
    });
    const query = await call(failing(new InvalidInputError("query", [{ field: "limit", reason: "at most 1000" }])), event());
    expect(query.statusCode).toBe(400);
  });

  it("answers 503 with Retry-After when Kafka is unavailable", async () => {
    const response = await call(failing(new TransactionLogUnavailableError("connect ECONNREFUSED 127.0.0.1:9")), event());
    expect(response.statusCode).toBe(503);
    expect(Number(response.headers?.["Retry-After"])).toBeGreaterThan(0);
    // The broker's address stays internal.
    expect(response.body).not.toMatch(/ECONNREFUSED|127\.0\.0\.1/);
  });

  it("hides the internals of anything unexpected behind a generic 500", async () => {
    const response = await call(failing(new Error("password authentication failed for user postgres")), event());
    expect(response.statusCode).toBe(500);
    expect(response.json).toEqual({ status: 500, error: "Internal Server Error", message: "internal error" });
  });

  it("maps each domain error to its status and headers in one table; Middy's errors by statusCode and expose", () => {
    expect(problemOf(new NotFoundError("no such thing"))).toEqual({ status: 404, message: "no such thing" });
    expect(problemOf(new RequestInFlightError("Idempotency-Key", 1))).toMatchObject({
      status: 409,
      headers: { "Retry-After": "1" },
    });
    expect(problemOf(new IdempotencyConflictError("Idempotency-Key")).status).toBe(422);
    const middyError = Object.assign(new Error("upstream secret"), { statusCode: 502, expose: false });
    expect(problemOf(middyError)).toEqual({ status: 502, message: "internal error" });
    const middyClientError = Object.assign(new Error("Unsupported thing"), { statusCode: 406, expose: true });
    expect(problemOf(middyClientError)).toEqual({ status: 406, message: "Unsupported thing" });
  });
});
