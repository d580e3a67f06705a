import { randomInt, randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HEALTH_CACHE_MS } from "../../lib/health.js";
import { HealthResponse } from "../../lib/health-schema.js";
import { apiKeyScope, idForKey } from "../../lib/idempotency.js";
import { ensureTopics } from "../../lib/kafka/admin.js";
import { paysimExamples } from "../../lib/transaction.js";
import { freePort } from "../../scripts/infra/index.js";
import { readAllMessages, testKafka, uniqueName } from "../support/kafka.js";
import { type OfflineServer, startOffline } from "../support/offline.js";

/**
 * GET /health and the API's answers while a dependency is down, against the real `serverless
 * offline start`: with everything up; with nothing listening where Kafka should be; with nothing
 * listening where PostgreSQL should be (the API never needs the database to accept work).
 */

const topic = uniqueName("test.availability");
const kafka = testKafka();
const account = `C${randomInt(1e8, 1e9)}A`;

function paysim(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...paysimExamples.payment, nameOrig: account, ...overrides };
}

async function timedFetch(url: string, init: RequestInit = {}) {
  const started = performance.now();
  const response = await fetch(url, init);
  const body = (await response.json()) as Record<string, unknown>;
  return { status: response.status, headers: response.headers, body, elapsedMs: performance.now() - started };
}

const postInit = (server: OfflineServer, body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: "POST",
  headers: server.headers({ "content-type": "application/json", ...headers }),
  body: JSON.stringify(body),
});

async function messageIds(): Promise<string[]> {
  const messages = await readAllMessages(kafka, topic, 20_000);
  return messages.map((message) => JSON.parse(message.value?.toString() ?? "{}").id as string);
}

beforeAll(async () => {
  await ensureTopics([topic]);
});

describe("GET /health with Kafka and PostgreSQL up", () => {
  let server: OfflineServer;
  beforeAll(async () => {
    server = await startOffline({ env: { TRANSACTIONS_TOPIC: topic, OFFLINE_KAFKA_ENABLED: "false" } });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("answers 200 with each dependency up and its latency, without an API key", async () => {
    const response = await timedFetch(`${server.baseUrl}/health`);
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const health = HealthResponse.parse(response.body);
    expect(health).toEqual({
      status: "up",
      checks: {
        kafka: { status: "up", latencyMs: expect.any(Number) },
        database: { status: "up", latencyMs: expect.any(Number) },
      },
    });
  });

  it("answers a burst of requests from one check, and checks again once it is HEALTH_CACHE_MS old", async () => {
    await sleep(HEALTH_CACHE_MS);
    const burst = await Promise.all(Array.from({ length: 20 }, () => timedFetch(`${server.baseUrl}/health`)));
    expect(burst.map((response) => response.status)).toEqual(Array(20).fill(200));
    const checkedAt = new Set(burst.map((response) => response.headers.get("x-checked-at")));
    expect(checkedAt.size).toBe(1);
    const [first] = checkedAt;
    expect(Date.parse(first as string)).toBeGreaterThan(Date.now() - HEALTH_CACHE_MS);
    // Every answer is that one check's, latencies included.
    expect(new Set(burst.map((response) => JSON.stringify(response.body))).size).toBe(1);

    await sleep(HEALTH_CACHE_MS);
    const later = await timedFetch(`${server.baseUrl}/health`);
    expect(Date.parse(later.headers.get("x-checked-at") as string)).toBeGreaterThanOrEqual(
      Date.parse(first as string) + HEALTH_CACHE_MS,
    );
  });
});

describe("with nothing listening where Kafka should be", () => {
  let server: OfflineServer;
  beforeAll(async () => {
    server = await startOffline({
      env: { KAFKA_BROKERS: `127.0.0.1:${await freePort()}`, TRANSACTIONS_TOPIC: topic, OFFLINE_KAFKA_ENABLED: "false" },
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("GET /health answers 503 within 5 s: kafka down (a reason, no address), database up", async () => {
    const response = await timedFetch(`${server.baseUrl}/health`);
    expect(response.status).toBe(503);
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(response.elapsedMs).toBeLessThan(5_000);
    const health = HealthResponse.parse(response.body);
    expect(health.status).toBe("down");
    expect(health.checks.kafka).toEqual({ status: "down", latencyMs: expect.any(Number), error: expect.any(String) });
    expect(health.checks.kafka.error).not.toMatch(/127\.0\.0\.1|:\d{2,5}/);
    expect(health.checks.database.status).toBe("up");
  });

  it("answers 50 concurrent POSTs (single, bulk, keyed) each with 503 and Retry-After within 5 s", async () => {
    const requests = Array.from({ length: 50 }, (_, index) => {
      if (index % 3 === 1)
        return timedFetch(`${server.baseUrl}/transactions`, postInit(server, [paysim(), paysim({ step: index })]));
      const headers: Record<string, string> = index % 3 === 2 ? { "Idempotency-Key": `down-${randomUUID()}` } : {};
      return timedFetch(`${server.baseUrl}/transaction`, postInit(server, paysim({ step: index }), headers));
    });
    const answers = await Promise.all(requests);
    for (const answer of answers) {
      expect(answer.status).toBe(503);
      expect(Number(answer.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(answer.body).toEqual({ status: 503, error: "Service Unavailable", message: expect.stringMatching(/unavailable/) });
      expect(answer.elapsedMs).toBeLessThan(5_000);
    }
  });
});

describe("with nothing listening where PostgreSQL should be", () => {
  let server: OfflineServer;
  beforeAll(async () => {
    server = await startOffline({
      env: {
        DATABASE_URL: `postgres://postgres@127.0.0.1:${await freePort()}/txlog_test`,
        TRANSACTIONS_TOPIC: topic,
        OFFLINE_KAFKA_ENABLED: "false",
      },
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("GET /health answers 503: database down, kafka up", async () => {
    const response = await timedFetch(`${server.baseUrl}/health`);
    expect(response.status).toBe(503);
    expect(response.elapsedMs).toBeLessThan(5_000);
    const health = HealthResponse.parse(response.body);
    expect(health.checks.database).toEqual({ status: "down", latencyMs: expect.any(Number), error: "failed: ECONNREFUSED" });
    expect(health.checks.kafka.status).toBe("up");
  });

  it("still accepts POSTs (202, in Kafka), with and without an Idempotency-Key", async () => {
    const plain = await timedFetch(`${server.baseUrl}/transaction`, postInit(server, paysim({ step: 2 })));
    expect(plain.status).toBe(202);
    const key = `db-down-${randomUUID()}`;
    const keyed = await timedFetch(
      `${server.baseUrl}/transaction`,
      postInit(server, paysim({ step: 3 }), { "Idempotency-Key": key }),
    );
    expect(keyed.status).toBe(202);
    expect(keyed.body.id).toBe(idForKey(key, 0, apiKeyScope(server.apiKey)));
    // The key is still honoured by this process while the database is away.
    const retry = await timedFetch(
      `${server.baseUrl}/transaction`,
      postInit(server, paysim({ step: 3 }), { "Idempotency-Key": key }),
    );
    expect(retry.status).toBe(202);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    const reused = await timedFetch(
      `${server.baseUrl}/transaction`,
      postInit(server, paysim({ step: 4 }), { "Idempotency-Key": key }),
    );
    expect(reused.status).toBe(422);

    const ids = await messageIds();
    expect(ids).toContain(plain.body.id);
    expect(ids.filter((id) => id === keyed.body.id)).toHaveLength(1);
  });
});
