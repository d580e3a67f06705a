import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Producer } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureTopics } from "../../lib/kafka/admin.js";
import { closeLagAdmin, consumerGroupLag } from "../../lib/kafka/lag.js";
import { PipelineStats } from "../../lib/pipeline/schemas.js";
import { freePort } from "../../scripts/infra/index.js";
import { testKafka, uniqueName } from "../support/kafka.js";
import { type OfflineServer, startOffline } from "../support/offline.js";

/**
 * GET /metrics on the real `serverless offline start`: after POSTs and consumed batches on a topic and
 * consumer group of this file's own, the series count exactly what the test did, and the lag per partition
 * (read from Kafka at the scrape) is there and drains to 0.
 */

const topic = uniqueName("test.metrics");
const deadLetterTopic = `${topic}.dead-letter`;
const group = uniqueName("test.metrics-consume");
let server: OfflineServer;
let producer: Producer;

const transaction = (index: number) => ({
  step: 3,
  type: "PAYMENT",
  amount: `${100 + index}.25`,
  nameOrig: `C9${String(index).padStart(8, "0")}`,
  oldbalanceOrg: "1000.0",
  newbalanceOrig: "899.75",
  nameDest: "M1979787155",
  oldbalanceDest: 0,
  newbalanceDest: 0,
  isFraud: 0,
  isFlaggedFraud: 0,
});

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus' text format, sample lines only (the exposition escapes only \\, \" and \n in label values). */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key as string] = (value as string).replace(/\\(.)/g, (_, char: string) => (char === "n" ? "\n" : char));
    }
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter(
    (sample) => sample.name === name && Object.entries(labels).every(([key, wanted]) => sample.labels[key] === wanted),
  );
  return found.length ? found.reduce((sum, sample) => sum + sample.value, 0) : undefined;
}

async function scrape(): Promise<{ response: Response; samples: Sample[] }> {
  const response = await fetch(`${server.baseUrl}/metrics`, { headers: server.headers() });
  expect(response.status).toBe(200);
  return { response, samples: parseExposition(await response.text()) };
}

async function post(path: string, body: unknown): Promise<Response> {
  return fetch(`${server.baseUrl}${path}`, {
    method: "POST",
    headers: server.headers({ "content-type": "application/json" }),
    body: JSON.stringify(body),
  });
}

beforeAll(async () => {
  await ensureTopics([topic, deadLetterTopic]);
  server = await startOffline({
    env: { TRANSACTIONS_TOPIC: topic, DEAD_LETTER_TOPIC: deadLetterTopic, CONSUMER_GROUP_ID: group },
  });
  producer = testKafka().producer();
  await producer.connect();
});

afterAll(async () => {
  await producer?.disconnect();
  await server?.stop();
});

describe("GET /metrics", () => {
  it("answers 403 without the API key (and with a wrong one)", async () => {
    expect((await fetch(`${server.baseUrl}/metrics`)).status).toBe(403);
    expect((await fetch(`${server.baseUrl}/metrics`, { headers: { "x-api-key": "not-the-key-not-the-key" } })).status).toBe(403);
  });

  it("counts the requests, the produce calls, the stored records and the dead letters, and reports the lag per partition", async () => {
    const ids: string[] = [];
    for (let index = 0; index < 5; index++) {
      const response = await post("/transaction", transaction(index));
      expect(response.status).toBe(202);
      ids.push(((await response.json()) as { id: string }).id);
    }
    const bulk = await post("/transactions", [transaction(5), transaction(6), transaction(7)]);
    expect(bulk.status).toBe(202);
    ids.push(...((await bulk.json()) as { ids: string[] }).ids);
    expect((await post("/transaction", { ...transaction(8), amount: "-1" })).status).toBe(422);
    // A poison record straight onto the topic: the consumer dead-letters it.
    await producer.send({ topic, messages: [{ key: "poison", value: "not json at all" }] });

    // Every accepted transaction stored (read through the API, which counts too).
    const deadline = Date.now() + 60_000;
    let stored = 0;
    while (stored < ids.length && Date.now() < deadline) {
      stored = 0;
      for (const id of ids) {
        const response = await fetch(`${server.baseUrl}/transactions/${id}`, { headers: server.headers() });
        await response.body?.cancel();
        if (response.status === 200) stored++;
      }
      if (stored < ids.length) await sleep(300);
    }
    expect(stored).toBe(ids.length);

    // The dead letter and the commits come with or after the last batch: poll the scrape until they are there.
    let samples: Sample[] = [];
    let response: Response | undefined;
    await expect
      .poll(
        async () => {
          ({ response, samples } = await scrape());
          return {
            deadLetters: value(samples, "txlog_dead_letters_total", { reason: "undecodable" }),
            lag: value(samples, "txlog_consumer_lag", { topic, group }),
          };
        },
        { timeout: 30_000, interval: 500 },
      )
      .toEqual({ deadLetters: 1, lag: 0 });

    expect(response?.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    // HTTP requests by route and status: exactly what this test sent.
    expect(value(samples, "txlog_http_requests_total", { method: "POST", route: "/transaction", status: "202" })).toBe(5);
    expect(value(samples, "txlog_http_requests_total", { method: "POST", route: "/transaction", status: "422" })).toBe(1);
    expect(value(samples, "txlog_http_requests_total", { method: "POST", route: "/transactions", status: "202" })).toBe(1);
    expect(
      value(samples, "txlog_http_requests_total", { method: "GET", route: "/transactions/{id}", status: "200" }),
    ).toBeGreaterThanOrEqual(ids.length);
    // The 403s above never reached a handler.
    expect(value(samples, "txlog_http_requests_total", { route: "/metrics", status: "403" })).toBeUndefined();

    // Produce latency: one call per accepted request (6), 8 messages; the dead letter's produce is one more call.
    expect(value(samples, "txlog_produce_duration_seconds_count", { outcome: "acked" })).toBe(7);
    expect(value(samples, "txlog_produced_messages_total", { outcome: "acked" })).toBe(9);
    const produceSeconds = value(samples, "txlog_produce_duration_seconds_sum", { outcome: "acked" }) ?? 0;
    expect(produceSeconds).toBeGreaterThan(0);
    expect(produceSeconds).toBeLessThan(7 * 8);
    expect(value(samples, "txlog_produce_duration_seconds_bucket", { outcome: "acked", le: "+Inf" })).toBe(7);

    // The consumer: records stored, batches, the poison record, handler durations.
    expect(value(samples, "txlog_records_stored_total")).toBe(ids.length);
    expect(value(samples, "txlog_consumer_records_total")).toBe(ids.length + 1);
    expect(value(samples, "txlog_records_duplicate_total")).toBe(0);
    const batches = value(samples, "txlog_consumer_batches_total", { outcome: "stored" }) ?? 0;
    expect(batches).toBeGreaterThanOrEqual(1);
    expect(batches).toBeLessThanOrEqual(ids.length + 1);
    expect(value(samples, "txlog_consumer_batches_total", { outcome: "failed" }) ?? 0).toBe(0);
    expect(value(samples, "txlog_handler_duration_seconds_count", { handler: "consume" })).toBe(batches);
    expect(value(samples, "txlog_handler_duration_seconds_count", { handler: "POST /transaction" })).toBe(6);

    // Lag per partition of this file's topic and group: every partition present, all drained.
    const lag = samples.filter((sample) => sample.name === "txlog_consumer_lag" && sample.labels.topic === topic);
    expect(lag.map((sample) => sample.labels.partition).sort()).toEqual(["0", "1", "2"]);
    expect(lag.every((sample) => sample.labels.group === group && sample.value === 0)).toBe(true);
    // Node's own process metrics come along.
    expect(value(samples, "process_resident_memory_bytes")).toBeGreaterThan(0);
  });
});

describe("consumer lag (lib/kafka/lag.ts)", () => {
  it("is the high watermark minus the group's committed offset, per partition; everything retained before a first commit", async () => {
    const other = uniqueName("test.metrics-lag");
    const idle = uniqueName("test.metrics-idle-group");
    await ensureTopics([other]);
    await producer.send({ topic: other, messages: ["a", "b", "c"].map((value) => ({ value, partition: 1 })) });
    expect(await consumerGroupLag(other, idle)).toEqual({
      topic: other,
      groupId: idle,
      total: 3,
      partitions: [
        { partition: 0, highWatermark: 0, committedOffset: null, lag: 0 },
        { partition: 1, highWatermark: 3, committedOffset: null, lag: 3 },
        { partition: 2, highWatermark: 0, committedOffset: null, lag: 0 },
      ],
    });
    const admin = testKafka().admin();
    await admin.connect();
    try {
      await admin.setOffsets({ groupId: idle, topic: other, partitions: [{ partition: 1, offset: "2" }] });
    } finally {
      await admin.disconnect();
    }
    const after = await consumerGroupLag(other, idle);
    expect(after.total).toBe(1);
    expect(after.partitions[1]).toEqual({ partition: 1, highWatermark: 3, committedOffset: 2, lag: 1 });
    await closeLagAdmin();
  });

  it("GET /pipeline/stats shows the same lag for the server's own group, drained", async () => {
    const response = await fetch(`${server.baseUrl}/pipeline/stats`, { headers: server.headers() });
    expect(response.status).toBe(200);
    const stats = PipelineStats.parse(await response.json());
    expect(stats.lag).toMatchObject({ topic, groupId: group, total: 0 });
    expect(stats.lag?.partitions).toHaveLength(3);
    expect(stats.health.consumer).toMatchObject({ status: "up", groupId: group, members: 1 });
    expect(stats.deadLetters?.byReason).toEqual([{ reason: "undecodable", count: 1, lastAt: expect.any(String) }]);
    expect(stats.throughput?.series).toHaveLength(60);
  });

  it("counts what the dead-letter topic holds, whoever wrote it, in /pipeline/stats and /metrics", async () => {
    const readStats = async () =>
      PipelineStats.parse(await (await fetch(`${server.baseUrl}/pipeline/stats`, { headers: server.headers() })).json());
    const before = (await readStats()).deadLetterTopic?.messages ?? 0;
    // Written by someone else than the consume function (a tool, a trigger's on-failure destination): not in the table.
    await producer.send({
      topic: deadLetterTopic,
      messages: [1, 2, 3].map((n) => ({ value: `planted ${n}`, headers: { "dead-letter-reason": "function-error" } })),
    });
    const stats = await readStats();
    expect(stats.deadLetterTopic).toEqual({ topic: deadLetterTopic, messages: before + 3 });
    expect(stats.unavailable).toEqual({});
    const { samples } = await scrape();
    expect(value(samples, "txlog_dead_letter_topic_messages", { topic: deadLetterTopic })).toBe(before + 3);
  });
});

describe("npm run worker --metrics-port", () => {
  it("serves its own GET /metrics: its batches, dead letters and its group's lag per partition; 403 without the key", async () => {
    const workerTopic = uniqueName("test.metrics-worker");
    const workerGroup = uniqueName("test.metrics-worker-group");
    await ensureTopics([workerTopic]);
    await producer.send({ topic: workerTopic, messages: [{ key: "poison", value: "{not json" }] });
    const port = await freePort();
    const worker = spawn(
      process.execPath,
      ["--import", "tsx", "scripts/worker.ts", "--topic", workerTopic, "--group", workerGroup, "--metrics-port", String(port)],
      {
        cwd: resolve(import.meta.dirname, "../.."),
        env: { ...process.env, DEAD_LETTER_TOPIC: deadLetterTopic },
        stdio: "ignore",
      },
    );
    const exited = new Promise((done) => worker.once("exit", done));
    try {
      const url = `http://127.0.0.1:${port}/metrics`;
      let samples: Sample[] = [];
      await expect
        .poll(
          async () => {
            const response = await fetch(url, { headers: server.headers() }).catch(() => undefined);
            if (response?.status !== 200) return undefined;
            samples = parseExposition(await response.text());
            return {
              deadLetters: value(samples, "txlog_dead_letters_total", { reason: "undecodable" }),
              lag: value(samples, "txlog_consumer_lag", { topic: workerTopic, group: workerGroup }),
            };
          },
          { timeout: 60_000, interval: 500 },
        )
        .toEqual({ deadLetters: 1, lag: 0 });
      expect(value(samples, "txlog_consumer_batches_total", { outcome: "stored" })).toBe(1);
      expect(samples.filter((sample) => sample.name === "txlog_consumer_lag").map((sample) => sample.labels.topic)).toEqual([
        workerTopic,
        workerTopic,
        workerTopic,
      ]);
      expect((await fetch(url)).status).toBe(403);
      expect((await fetch(`http://127.0.0.1:${port}/other`, { headers: server.headers() })).status).toBe(404);
    } finally {
      worker.kill("SIGTERM");
      await exited;
    }
  });
});
