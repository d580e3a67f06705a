import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { ensureTopics } from "../../lib/kafka/admin.js";
import { BENCH_API_KEY, groupName, type RunContext, topicName } from "../lib/context.js";
import { runLoad } from "../lib/http-load.js";
import { groupIsStable } from "../lib/kafka.js";
import { TreeMemorySampler, type TreePeak } from "../lib/memory.js";
import { startApi, startWorker } from "../lib/pipeline.js";
import { waitUntil } from "../lib/processes.js";
import { row } from "../lib/report.js";

const MB = 1024 * 1024;

interface E2eLatency {
  rows: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** POST -> row latency from the rows themselves: persisted_at (the consumer's commit) - received_at (the API's accept). */
async function rowLatency(client: pg.Client, topic: string, since: Date): Promise<E2eLatency> {
  const { rows } = await client.query<E2eLatency>(
    `with latency as (
       select extract(epoch from persisted_at - received_at) * 1000 as ms from transactions where kafka_topic = $1 and received_at >= $2
     )
     select count(*)::int as rows,
            percentile_cont(0.5) within group (order by ms)::float8 as p50,
            percentile_cont(0.95) within group (order by ms)::float8 as p95,
            percentile_cont(0.99) within group (order by ms)::float8 as p99,
            max(ms)::float8 as max
       from latency`,
    [topic, since],
  );
  return rows[0] ?? { rows: 0, p50: Number.NaN, p95: Number.NaN, p99: Number.NaN, max: Number.NaN };
}

/** The esbuild service serverless-esbuild keeps running for its file watcher (a development tool, not the API). */
function esbuildPeak(peak: TreePeak): number {
  return peak.processes.filter(({ command }) => command.includes("esbuild")).reduce((sum, { peakRss }) => sum + peakRss, 0);
}

/** Stage 5: a fixed offered rate through the API and the worker, each in its own process, into the run's database. */
export async function endToEnd(context: RunContext): Promise<void> {
  const { sizes, log } = context;
  const topic = topicName(context, "e2e");
  const group = groupName(context, "e2e");
  await ensureTopics([topic, `${topic}.dead-letter`]);
  context.topics.push(`${topic}.dead-letter`);
  const client = new pg.Client({ connectionString: context.databaseUrl });
  await client.connect();
  log.info({ stage: "5", topic, group }, "starting the API and the worker");
  const [api, worker] = await Promise.all([
    startApi(context, "api-e2e", topic),
    Promise.resolve(startWorker(context, "worker-e2e", topic, group)),
  ]);
  const apiMemory = new TreeMemorySampler(api.process.pid).start();
  const workerMemory = new TreeMemorySampler(worker.pid).start();
  try {
    await waitUntil("the worker joins its consumer group", () => groupIsStable(group), {
      timeoutMs: 60_000,
      intervalMs: 250,
      process: worker,
    });
    // Warm the API (bundle load, producer connect) at a low rate; its rows are excluded by received_at.
    await runLoad({
      url: `${api.baseUrl}/transaction`,
      connections: 2,
      durationSec: context.sizes.warmupSec,
      bodies: context.bodies,
      successStatus: 202,
      headers: { "x-api-key": BENCH_API_KEY },
    });
    await sleep(200);
    const loadStarted = new Date();

    log.info({ stage: "5", rate: sizes.e2eRate, seconds: sizes.e2eDurationSec }, "offering load");
    const load = await runLoad({
      url: `${api.baseUrl}/transaction`,
      connections: sizes.e2eConnections,
      durationSec: sizes.e2eDurationSec,
      overallRate: sizes.e2eRate,
      bodies: context.bodies,
      successStatus: 202,
      headers: { "x-api-key": BENCH_API_KEY },
    });
    log.info(
      { stage: "5", accepted: load.succeeded, perSec: Math.round(load.succeededPerSec), statuses: load.statusCounts },
      "load done",
    );
    await waitUntil(
      `all ${load.succeeded} accepted transactions stored`,
      async () => (await rowLatency(client, topic, loadStarted)).rows >= load.succeeded,
      { timeoutMs: 60_000, intervalMs: 250, process: worker },
    );
    const latency = await rowLatency(client, topic, loadStarted);
    const apiPeak = apiMemory.stop();
    const workerPeak = workerMemory.stop();
    log.info({ stage: "5", ...latency }, "POST -> row latency");
    context.details.e2e = { topic, load, latency, apiMemory: apiPeak, workerMemory: workerPeak };
    const offered = `${sizes.e2eRate} tx/s offered, ${Math.round(load.succeededPerSec)} accepted`;
    // Every request the load generator sent must be answered 202 (a 503 or a time-out is a refused transaction).
    const sent = load.succeeded + load.failed + load.errors + load.timeouts;
    const schedule = sizes.e2eRate * sizes.e2eDurationSec;
    context.rows.push(
      row("5 end to end", `requests accepted (202) of ${schedule} offered`, load.succeeded, "req", {
        reference: schedule,
        // The load generator's schedule is met to within its timer's precision (a 20 s run sends 19,990-20,010).
        target: { on: "ratio", comparison: ">=", threshold: 0.995 },
        note: `${sizes.e2eRate} tx/s x ${sizes.e2eDurationSec} s; sent ${sent}; statuses ${JSON.stringify(load.statusCounts)}, errors ${load.errors}, time-outs ${load.timeouts}`,
      }),
      row("5 end to end", "requests sent but not accepted (503, errors, time-outs)", sent - load.succeeded, "req", {
        target: { on: "value", comparison: "<=", threshold: 0 },
      }),
      row("5 end to end", `POST->row p50 (${offered})`, latency.p50, "ms"),
      row("5 end to end", "POST->row p95", latency.p95, "ms"),
      row("5 end to end", "POST->row p99", latency.p99, "ms", { target: { on: "value", comparison: "<=", threshold: 100 } }),
      row("5 end to end", "POST 202 latency p50", load.latencyMs.p50, "ms"),
      row("5 end to end", "POST 202 latency p99", load.latencyMs.p99, "ms"),
      row("6 peak RSS", "API under (5)", apiPeak.rootPeakRss / MB, "MB", {
        note: `serverless offline's node process; its esbuild service adds ${Math.round(esbuildPeak(apiPeak) / MB)} MB`,
      }),
      row("6 peak RSS", "worker under (5)", workerPeak.rootPeakRss / MB, "MB", {
        target: { on: "value", comparison: "<=", threshold: 250 },
      }),
    );
  } finally {
    apiMemory.stop();
    workerMemory.stop();
    await Promise.all([api.stop(), worker.stop()]);
    await client.end();
  }
}
