import type { APIGatewayProxyEvent, Context } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { NotFoundError } from "../../lib/errors.js";
import { jsonBodyRoute, jsonResponse, route } from "../../lib/http/handler.js";
import { metrics, observeProduce, watchConsumerLag } from "../../lib/metrics.js";

/** The Middy chains with hand-made API Gateway events: what GET /metrics would count, without a server. */
function event(overrides: Partial<APIGatewayProxyEvent>): APIGatewayProxyEvent {
  return {
    headers: {},
    body: null,
    isBase64Encoded: false,
    queryStringParameters: null,
    pathParameters: null,
    ...overrides,
  } as APIGatewayProxyEvent;
}
const context = { getRemainingTimeInMillis: () => 30_000 } as Context;

async function count(labels: Record<string, string>): Promise<number> {
  const { values } = await metrics().httpRequests.get();
  return values
    .filter((sample) => Object.entries(labels).every(([key, value]) => (sample.labels as Record<string, unknown>)[key] === value))
    .reduce((sum, { value }) => sum + value, 0);
}

describe("the metrics of a process", () => {
  it("are one set per process, whichever copy of the module asks (held on globalThis)", async () => {
    const first = metrics();
    expect(metrics()).toBe(first);
    expect((globalThis as Record<symbol, unknown>)[Symbol.for("txlog.metrics")]).toBe(first);
  });

  it("count answered requests by method, route (the resource, not the path) and status, problems included", async () => {
    const ok = route(async () => jsonResponse(200, {}));
    const missing = route(async () => {
      throw new NotFoundError("nothing here");
    });
    const posted = jsonBodyRoute({ maxBodyBytes: 1024 }, async () => jsonResponse(202, {}));
    const resource = "/unit/{id}";
    await ok(event({ httpMethod: "GET", resource, path: "/unit/1" }), context);
    await ok(event({ httpMethod: "GET", resource, path: "/unit/2" }), context);
    await missing(event({ httpMethod: "GET", resource, path: "/unit/3" }), context);
    // Refused by the body step (415) before the handler: still counted, with its status.
    await posted(
      event({ httpMethod: "POST", resource: "/unit", path: "/unit", body: "{}", headers: { "content-type": "text/plain" } }),
      context,
    );

    expect(await count({ method: "GET", route: resource, status: "200" })).toBe(2);
    expect(await count({ method: "GET", route: resource, status: "404" })).toBe(1);
    expect(await count({ method: "POST", route: "/unit", status: "415" })).toBe(1);
    expect(await count({ route: "/unit/1" })).toBe(0);
    const durations = await metrics().handlerDuration.get();
    const timed = durations.values.find(
      (sample) => sample.metricName === "txlog_handler_duration_seconds_count" && sample.labels.handler === `GET ${resource}`,
    );
    expect(timed?.value).toBe(3);
  });

  it("time produce calls by outcome and count their messages", async () => {
    observeProduce("acked", 3, performance.now() - 12);
    observeProduce("refused", 500, performance.now());
    const produced = await metrics().producedMessages.get();
    expect(Object.fromEntries(produced.values.map(({ labels, value }) => [labels.outcome, value]))).toMatchObject({
      acked: 3,
      refused: 500,
    });
    const text = await metrics().registry.getSingleMetricAsString("txlog_produce_duration_seconds");
    expect(text).toMatch(/txlog_produce_duration_seconds_count\{outcome="acked"\} 1/);
    expect(text).toMatch(/txlog_produce_duration_seconds_bucket\{le="0.025",outcome="acked"\} 1/);
  });

  it("keep each (topic, group) pair whose lag a scrape reads once", () => {
    watchConsumerLag("unit.topic", "unit.group");
    watchConsumerLag("unit.topic", "unit.group");
    watchConsumerLag("unit.topic", "other.group");
    expect([...metrics().lagTargets.values()].filter(({ topic }) => topic === "unit.topic")).toEqual([
      { topic: "unit.topic", groupId: "unit.group" },
      { topic: "unit.topic", groupId: "other.group" },
    ]);
    metrics().lagTargets.clear();
  });
});
