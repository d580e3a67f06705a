import { relative } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { ensureTopics } from "../../lib/kafka/admin.js";
import { freePort } from "../../scripts/infra/index.js";
import { BENCH_API_KEY, groupName, type RunContext, topicName } from "../lib/context.js";
import { runLoad } from "../lib/http-load.js";
import { groupIsStable } from "../lib/kafka.js";
import { TreeMemorySampler, type TreePeak } from "../lib/memory.js";
import { REPO_ROOT } from "../lib/offline.js";
import { pipelineEnv } from "../lib/pipeline.js";
import { portAnswers, startProcess, waitUntil } from "../lib/processes.js";
import { row } from "../lib/report.js";

const MB = 1024 * 1024;
/** After the server answers and the trigger joined its group: let start-up finish (its collection included), then sample. */
const SETTLE_MS = 15_000;
const REST_SAMPLE_MS = 10_000;

/** The largest processes of a tree, for the note: "serverless 301, start.ts 88, npm 54" (last VmRSS, or peak). */
function breakdown(peak: TreePeak, which: "rss" | "peakRss"): string {
  return [...peak.processes]
    .sort((a, b) => b[which] - a[which])
    .slice(0, 5)
    .map((one) => {
      const { command } = one;
      const name = command.includes("serverless")
        ? "serverless offline"
        : command.includes("start.ts")
          ? "start.ts"
          : command.includes("esbuild")
            ? "esbuild"
            : command.split(" ")[0]?.split("/").pop();
      return `${name} ${Math.round(one[which] / MB)}`;
    })
    .join(", ");
}

/**
 * Stage 6: `npm start` exactly as a developer runs it (API + the local Kafka trigger in serverless offline's
 * process, the esbuild watcher off), the total RSS of every process it starts (npm itself included; the broker
 * and PostgreSQL were already running, so they are not among them): at rest, then under stage 5's offered load.
 */
export async function startMemory(context: RunContext): Promise<void> {
  const { sizes, log } = context;
  const topic = topicName(context, "npm-start");
  const group = groupName(context, "npm-start");
  await ensureTopics([topic, `${topic}.dead-letter`]);
  context.topics.push(`${topic}.dead-letter`);
  const httpPort = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...pipelineEnv(context, topic, { CONSUMER_GROUP_ID: group }),
    HTTP_PORT: String(httpPort),
    WEBSOCKET_PORT: String(await freePort()),
    ESBUILD_WORK_FOLDER: relative(REPO_ROOT, `${context.tmpDir}/esbuild-npm-start`),
    OFFLINE_KAFKA_ENABLED: "true",
    TXLOG_WATCH: "false",
  };
  delete env.LAMBDA_PORT; // npm start's default: a socket in a private temporary directory
  const npm = startProcess("npm-start", "npm", ["start"], { cwd: REPO_ROOT, env, logFile: `${context.runDir}/npm-start.log` });
  const client = new pg.Client({ connectionString: context.databaseUrl });
  await client.connect();
  try {
    await waitUntil("npm start answers", () => portAnswers(httpPort), { timeoutMs: 120_000, intervalMs: 250, process: npm });
    await waitUntil("its Kafka trigger joined the group", () => groupIsStable(group), {
      timeoutMs: 60_000,
      intervalMs: 250,
      process: npm,
    });
    await sleep(SETTLE_MS);
    const rest = new TreeMemorySampler(npm.pid).start();
    await sleep(REST_SAMPLE_MS);
    const atRest = rest.stop();

    // Warm up as stage 5 does (the first requests load the function's bundle and connect the producer).
    await runLoad({
      url: `http://127.0.0.1:${httpPort}/transaction`,
      connections: 2,
      durationSec: sizes.warmupSec,
      bodies: context.bodies,
      successStatus: 202,
      headers: { "x-api-key": BENCH_API_KEY },
    });
    await sleep(200);
    const loaded = new TreeMemorySampler(npm.pid).start();
    const since = new Date();
    log.info({ stage: "6", rate: sizes.e2eRate, seconds: sizes.e2eDurationSec }, "npm start under stage 5's load");
    const load = await runLoad({
      url: `http://127.0.0.1:${httpPort}/transaction`,
      connections: sizes.e2eConnections,
      durationSec: sizes.e2eDurationSec,
      overallRate: sizes.e2eRate,
      bodies: context.bodies,
      successStatus: 202,
      headers: { "x-api-key": BENCH_API_KEY },
    });
    // Until the trigger stored what was accepted: its work is part of the load.
    await waitUntil(
      `npm start's trigger stores ${load.succeeded} rows`,
      async () => {
        const { rows } = await client.query<{ n: number }>(
          "select count(*)::int as n from transactions where kafka_topic = $1 and received_at >= $2",
          [topic, since],
        );
        return (rows[0]?.n ?? 0) >= load.succeeded;
      },
      { timeoutMs: 60_000, intervalMs: 250, process: npm },
    );
    const underLoad = loaded.stop();
    context.details.npmStart = { atRest, underLoad, load };
    context.rows.push(
      row("6 npm start RSS", "every process it starts, at rest", atRest.treePeakRss / MB, "MB", {
        target: { on: "value", comparison: "<=", threshold: 450 },
        note: `broker and PostgreSQL aside; by process (MB): ${breakdown(atRest, "rss")}`,
      }),
      row(
        "6 npm start RSS",
        `under load (${sizes.e2eRate} tx/s offered, ${Math.round(load.succeededPerSec)} accepted)`,
        underLoad.treePeakRss / MB,
        "MB",
        {
          target: { on: "value", comparison: "<=", threshold: 650 },
          note: `API and trigger in one process, as npm start runs them; peaks (MB): ${breakdown(underLoad, "peakRss")}`,
        },
      ),
    );
  } finally {
    await npm.stop(30_000);
    await client.end();
  }
}
