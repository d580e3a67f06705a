import pg from "pg";
import { loadConfig } from "../../lib/config.js";
import { ensureTopics } from "../../lib/kafka/admin.js";
import { infraSettings } from "../../scripts/infra/index.js";
import { BENCH_API_KEY, type RunContext, topicName } from "../lib/context.js";
import { type LoadOptions, type LoadResult, runLoad } from "../lib/http-load.js";
import { TreeMemorySampler } from "../lib/memory.js";
import { startApi, startNoop } from "../lib/pipeline.js";
import { KAFKA_TOOLS_VERSION, runProducerPerformance } from "../lib/producer-performance.js";
import { row } from "../lib/report.js";
import { apiMessages } from "./drain.js";

const MB = 1024 * 1024;

/** A warm-up (first requests load the bundle and connect the producer), then the measured run. */
async function measure(context: RunContext, name: string, options: LoadOptions): Promise<LoadResult> {
  await runLoad({ ...options, durationSec: context.sizes.warmupSec });
  context.log.info({ stage: name, connections: options.connections, seconds: options.durationSec }, "measuring");
  const result = await runLoad(options);
  context.log.info(
    {
      stage: name,
      perSec: Math.round(result.succeededPerSec),
      p50ms: result.latencyMs.p50,
      p99ms: result.latencyMs.p99,
      statuses: result.statusCounts,
      errors: result.errors,
    },
    "measured",
  );
  if (result.succeeded === 0) throw new Error(`${name}: no request succeeded (${JSON.stringify(result.statusCounts)})`);
  return result;
}

/** Stage 1: serverless-offline with a no-op handler; the ceiling stage 2 is read against. */
export async function httpCeiling(context: RunContext): Promise<number> {
  const { sizes } = context;
  context.log.info({ stage: "1" }, "starting the no-op service");
  const server = await startNoop(context, "noop");
  try {
    const result = await measure(context, "1 ceiling", {
      url: `${server.baseUrl}/transaction`,
      connections: sizes.httpConnections,
      durationSec: sizes.httpDurationSec,
      bodies: context.bodies,
      successStatus: 202,
      headers: { "x-api-key": BENCH_API_KEY },
    });
    context.details.ceiling = result;
    context.rows.push(
      row("1 HTTP ceiling", `no-op POST, ${sizes.httpConnections} conns`, result.succeededPerSec, "req/s", {
        note: `p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms`,
      }),
    );
    return result.succeededPerSec;
  } finally {
    await server.stop();
  }
}

/** The real API on a topic of the run's own; a fresh server per stage, so profiles and RSS are the stage's. */
async function withApi(
  context: RunContext,
  name: string,
  measured: (baseUrl: string, topic: string) => Promise<void>,
  options: { trigger?: boolean } = {},
): Promise<void> {
  const topic = topicName(context, name);
  await ensureTopics([topic, `${topic}.dead-letter`]);
  context.topics.push(`${topic}.dead-letter`);
  context.log.info({ stage: name, topic, trigger: options.trigger ?? false }, "starting the API");
  const server = await startApi(context, name, topic, options);
  const memory = new TreeMemorySampler(server.process.pid).start();
  try {
    await measured(server.baseUrl, topic);
  } finally {
    const peak = memory.stop();
    context.details[`${name}Memory`] = peak;
    context.log.info(
      { stage: name, peakRssMb: Math.round(peak.rootPeakRss / MB), treePeakRssMb: Math.round(peak.treePeakRss / MB) },
      "API memory",
    );
    await server.stop();
  }
}

/** Stage 2: POST /transaction, one transaction a request. */
export async function apiSingle(context: RunContext, ceiling: number | undefined): Promise<void> {
  const { sizes } = context;
  const singleLoad = (baseUrl: string): LoadOptions => ({
    url: `${baseUrl}/transaction`,
    connections: sizes.httpConnections,
    durationSec: sizes.httpDurationSec,
    bodies: context.bodies,
    successStatus: 202,
    headers: { "x-api-key": BENCH_API_KEY },
  });
  await withApi(context, "api-single", async (baseUrl) => {
    const result = await measure(context, "2 POST /transaction", singleLoad(baseUrl));
    context.details.single = result;
    context.rows.push(
      row("2 POST /transaction", `202/s, ${sizes.httpConnections} conns`, result.succeededPerSec, "req/s", {
        ...(ceiling ? { reference: ceiling } : {}),
        target: { on: "ratio", comparison: ">=", threshold: 0.85 },
      }),
      row("2 POST /transaction", "latency p50", result.latencyMs.p50, "ms"),
      row("2 POST /transaction", "latency p99", result.latencyMs.p99, "ms"),
    );
  });

  // As users run it: `npm start` serves the API with the trigger consuming and storing in the same process.
  await withApi(
    context,
    "api-single-npm-start",
    async (baseUrl, topic) => {
      const result = await measure(context, "2 POST /transaction under npm start", singleLoad(baseUrl));
      const stored = await storedFromTopic(context, topic);
      context.details.singleUnderNpmStart = { ...result, stored };
      context.rows.push(
        row(
          "2 POST /transaction",
          `202/s under npm start (trigger storing), ${sizes.httpConnections} conns`,
          result.succeededPerSec,
          "req/s",
          {
            ...(ceiling ? { reference: ceiling } : {}),
            target: { on: "ratio", comparison: ">=", threshold: 0.85 },
            note: `p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms; ${stored.toLocaleString("en-US")} rows stored by the trigger when the load stopped`,
          },
        ),
      );
    },
    { trigger: true },
  );
}

/** Rows the run's database holds from `topic` (what the trigger stored). */
async function storedFromTopic(context: RunContext, topic: string): Promise<number> {
  const client = new pg.Client({ connectionString: context.databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>("select count(*)::int as n from transactions where kafka_topic = $1", [
      topic,
    ]);
    return rows[0]?.n ?? 0;
  } finally {
    await client.end();
  }
}

/** Stage 3: POST /transactions, `bulkSize` transactions a request; counts transactions of 202 responses. */
export async function apiBulk(context: RunContext): Promise<void> {
  const { sizes } = context;
  let acked = Number.NaN;
  await withApi(context, "api-bulk", async (baseUrl) => {
    const bulkBodies = bulkRequestBodies(context.bodies, sizes.bulkSize);
    const result = await measure(context, "3 POST /transactions", {
      url: `${baseUrl}/transactions`,
      connections: sizes.bulkConnections,
      durationSec: sizes.httpDurationSec,
      bodies: bulkBodies,
      successStatus: 202,
      headers: { "x-api-key": BENCH_API_KEY },
    });
    context.details.bulk = { ...result, bulkSize: sizes.bulkSize };
    acked = result.succeededPerSec * sizes.bulkSize;
    context.details.bulkLatency = `p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms a request`;
  });
  // The reference, with the API stopped: Kafka's own Java producer on the same broker, records of the size
  // the API produces (key + value of its messages), acks=all, idempotent.
  const topic = topicName(context, "producer-performance");
  await ensureTopics([topic]);
  const recordSize = Math.round(
    apiMessages(context.bodies, 1_000).reduce(
      (sum, m) => sum + Buffer.byteLength(m.value as string) + Buffer.byteLength(m.key as string),
      0,
    ) / 1_000,
  );
  context.log.info({ stage: "3", topic, recordSize }, "reference: Kafka's ProducerPerformance");
  const reference = await runProducerPerformance({
    cacheDir: infraSettings.INFRA_CACHE_DIR,
    brokers: loadConfig().KAFKA_BROKERS,
    topic,
    records: sizes.producerPerformanceRecords,
    recordSize,
  });
  context.details.producerPerformance = { ...reference, recordSize };
  context.rows.push(
    row("3 POST /transactions", `tx/s acked (bulk ${sizes.bulkSize}, ${sizes.bulkConnections} conns)`, acked, "tx/s", {
      reference: reference.recordsPerSec,
      target: { on: "ratio", comparison: ">=", threshold: 0.5 },
      note: `${context.details.bulkLatency}; reference: Kafka ${KAFKA_TOOLS_VERSION} ProducerPerformance, ${reference.records.toLocaleString("en-US")} records of ${recordSize} B (${reference.producerProps.slice(1).join(" ")}), p99 ${reference.p99LatencyMs} ms`,
    }),
  );
}

/** Bulk request bodies: JSON arrays of `size` consecutive sample rows (a few distinct ones, sent round-robin). */
export function bulkRequestBodies(bodies: readonly string[], size: number, count = 16): string[] {
  return Array.from({ length: count }, (_, i) => {
    const start = (i * size) % Math.max(1, bodies.length - size);
    return `[${bodies.slice(start, start + size).join(",")}]`;
  });
}
