/**
 * `npm run bench` (and `npm run bench:smoke`): every stage of the pipeline against the real broker
 * and database, each figure next to a reference measured in the same run. Prints one table and writes
 * bench/results/<timestamp>.json. Speed is measured here, never asserted in tests.
 *
 *   npm run bench -- [--smoke] [--stages 1,2,3,7,4,8,5,6,9] [--profile] [--keep] [--data path/to/paysim.csv]
 *                    [--drain-rows N] [--reads-rows N] [--drain-workers N] [--duration S] [--connections N] [--rate TX_PER_S] [--api-config file.yml]
 *                    [--worker-args="--window 0 --batch-size 2000"]
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { loadConfig } from "../lib/config.js";
import { releaseClients } from "../lib/lifecycle.js";
import { logger } from "../lib/logger.js";
import { cliCommand, parseOrExit, positiveInteger } from "../scripts/cli/args.js";
import {
  applyRecordedInfra,
  dropDatabase,
  infraUp,
  kafkaAnswers,
  stopNativeKafka,
  withDatabase,
} from "../scripts/infra/index.js";
import { FULL_SIZES, type RunContext, SMOKE_SIZES } from "./lib/context.js";
import { renderProfile, summariseProfiles } from "./lib/cpu-profile.js";
import { freshDatabase } from "./lib/database.js";
import { deleteTopicsAndGroups } from "./lib/kafka.js";
import { REPO_ROOT } from "./lib/offline.js";
import { DEFAULT_PAYSIM_CSV, paysimBodies } from "./lib/paysim.js";
import { apiServiceFile, profileDir, setApiServiceFile } from "./lib/pipeline.js";
import { stopAll } from "./lib/processes.js";
import { renderNotes, renderTable } from "./lib/report.js";
import { workerDrain } from "./stages/drain.js";
import { endToEnd } from "./stages/e2e.js";
import { apiBulk, apiSingle, httpCeiling } from "./stages/http.js";
import { produceCost } from "./stages/produce.js";
import { readsAtScale } from "./stages/reads.js";
import { scaleOut } from "./stages/scale-out.js";
import { startMemory } from "./stages/start-memory.js";

const STAGES = ["1", "2", "3", "7", "4", "8", "5", "6", "9"];
/** Stages also known by a name. */
const STAGE_NAMES: Record<string, string> = { reads: "9" };

function stageList(text: string): string {
  const stages = text.split(",").map((stage) => STAGE_NAMES[stage.trim()] ?? stage.trim());
  const unknown = stages.filter((stage) => !STAGES.includes(stage));
  if (unknown.length)
    throw new InvalidArgumentError(
      `expected stages among ${STAGES.join(",")} or ${Object.keys(STAGE_NAMES).join(",")} (unknown: ${unknown.join(",")}).`,
    );
  return stages.join(",");
}

const command = parseOrExit(
  cliCommand(
    "npm run bench --",
    "Every stage of the pipeline against the real broker and database (brought up when they do not answer), each figure next to a reference measured in the same run, in a database (txlog_bench_<run>) and bench.<run>.* topics of its own, removed afterwards. Prints one table and writes bench/results/<timestamp>.json. Stages: 1 HTTP ceiling, 2 POST /transaction, 3 POST /transactions, 7 producer cost, 4 worker drain (1, 2, 3 workers over 3 partitions), 8 scale-out (1..3 workers over 6 partitions), 5 end to end, 6 npm start RSS, 9 (or reads) every read of the API and the dashboard at 10,000 and 10,000,000 generated rows.",
  )
    .option("--smoke", "tiny sizes (CI): every stage end to end, in about 30 s", false)
    .option("--stages <list>", "stages to run, comma-separated", stageList, STAGES.join(","))
    .option("--profile", "add CPU profiles, summarised per process", false)
    .option("--keep", "keep the bench database and topics", false)
    .option("--data <path>", "PaySim CSV the request bodies come from", DEFAULT_PAYSIM_CSV)
    .addOption(new Option("--drain-rows <n>", "messages stage 4 drains (default: 200000, smoke 5000)").argParser(positiveInteger))
    .addOption(
      new Option("--reads-rows <n>", "rows stage 9 generates for its large table (default: 10000000, smoke 20000)").argParser(
        positiveInteger,
      ),
    )
    .addOption(new Option("--drain-workers <n>", "workers of stage 4 (default: 1, 2 and 3 in turn)").argParser(positiveInteger))
    .addOption(new Option("--duration <seconds>", "each HTTP stage's load (default: 10, smoke 2)").argParser(positiveInteger))
    .addOption(
      new Option("--connections <n>", "HTTP connections of stages 1 and 2 (default: 50, smoke 10)").argParser(positiveInteger),
    )
    .addOption(new Option("--rate <tx-per-s>", "offered rate of stage 5 (default: 1000, smoke 100)").argParser(positiveInteger))
    .addOption(new Option("--api-config <file>", "a serverless.yml variant for the API stages (default: serverless.yml)"))
    .option("--worker-args <args>", 'extra flags for scripts/worker.ts, e.g. --worker-args="--window 0 --batch-size 2000"', ""),
);
const args = command.opts();

const log = logger.child({ component: "bench" });
const stages = new Set(args.stages.split(",").map((stage) => stage.trim()));
const sizes = { ...(args.smoke ? SMOKE_SIZES : FULL_SIZES) };
if (args.drainRows) sizes.drainRows = args.drainRows;
if (args.readsRows) sizes.readsLargeRows = args.readsRows;
if (args.drainWorkers) sizes.drainWorkerCounts = [args.drainWorkers];
if (args.duration) sizes.httpDurationSec = args.duration;
if (args.connections) sizes.httpConnections = args.connections;
if (args.rate) sizes.e2eRate = args.rate;

const startedAt = new Date();
const stamp = startedAt.toISOString().replaceAll(":", "-").replace(/\..*/, "");
const resultsDir = join(REPO_ROOT, "bench/results");
const runDir = join(resultsDir, stamp);
mkdirSync(runDir, { recursive: true });
const runId = `${args.smoke ? "smoke" : "full"}-${startedAt.getTime().toString(36)}`;
// Like npm start and npm test, the bench brings up what does not answer, and stops a broker it started.
const brokerWasUp = await kafkaAnswers(loadConfig().KAFKA_BROKERS);
await infraUp(loadConfig(), (message) => log.info({ step: "infra" }, message));
applyRecordedInfra(); // infra:up may have started a private PostgreSQL (or a cluster) and recorded where
// A database of this run's own, like its topics: two runs side by side never drop each other's data
// (BENCH_DATABASE_NAME names one instead).
const databaseUrl = withDatabase(
  loadConfig().DATABASE_URL,
  process.env.BENCH_DATABASE_NAME ?? `txlog_bench_${runId.replaceAll("-", "_")}`,
);

const context: RunContext = {
  runId,
  runDir,
  tmpDir: join(REPO_ROOT, ".esbuild", `bench-${runId}`),
  sizes,
  databaseUrl,
  bodies: paysimBodies(args.data).map((body) => JSON.stringify(body)),
  profile: args.profile,
  workerArgs: args.workerArgs.split(" ").filter(Boolean),
  log,
  topics: [],
  groups: [],
  rows: [],
  details: {},
};

const machine = {
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model,
  memoryMb: Math.round(totalmem() / 1024 / 1024),
  node: process.version,
  loadAverageAtStart: loadavg(),
};

async function main(): Promise<number> {
  setApiServiceFile(args.apiConfig);
  log.info(
    { runId, stages: [...stages], sizes, machine, apiServiceFile: apiServiceFile(), database: databaseUrl, logs: runDir },
    "bench starting",
  );
  await freshDatabase(databaseUrl);
  const failures: string[] = [];
  const attempt = async (stage: string, run: () => Promise<unknown>) => {
    try {
      await run();
    } catch (error) {
      failures.push(`stage ${stage}: ${(error as Error).message}`);
      log.error({ stage, err: error }, "stage failed");
    }
  };

  let ceiling: number | undefined;
  if (stages.has("1")) {
    await attempt("1", async () => {
      ceiling = await httpCeiling(context);
    });
  }
  if (stages.has("2")) await attempt("2", () => apiSingle(context, ceiling));
  if (stages.has("3")) await attempt("3", () => apiBulk(context));
  // The producer alone, transactional vs idempotent: what the API's Kafka transactions cost.
  if (stages.has("7")) await attempt("7", () => produceCost(context));
  if (stages.has("4")) await attempt("4", () => workerDrain(context));
  // W = 1..3 workers in one group over 6 partitions: the drain rate per worker count.
  if (stages.has("8")) await attempt("8", () => scaleOut(context));
  if (stages.has("5")) await attempt("5", () => endToEnd(context));
  // npm start as a developer runs it: the RSS of everything it starts, at rest and under stage 5's load.
  if (stages.has("6")) await attempt("6", () => startMemory(context));
  // Reads against a generated table of readsLargeRows (minutes to generate at 10M), the small one as reference.
  if (stages.has("9")) await attempt("9", () => readsAtScale(context));

  // Steady state only: each process stops right after its measured load (the drain worker: all of it).
  const measuredMs: Record<string, number | undefined> = {
    noop: sizes.httpDurationSec * 1000,
    "api-single": sizes.httpDurationSec * 1000,
    "api-bulk": sizes.httpDurationSec * 1000,
    "worker-drain": undefined,
    "api-e2e": sizes.e2eDurationSec * 1000,
    "worker-e2e": sizes.e2eDurationSec * 1000,
  };
  const profiles = context.profile
    ? Object.entries(measuredMs).flatMap(([name, lastMs]) =>
        summariseProfiles(profileDir(context, name), 15, lastMs).map((summary) => ({ process: name, lastMs, ...summary })),
      )
    : [];

  const finishedAt = new Date();
  const result = {
    startedAt,
    finishedAt,
    smoke: args.smoke,
    command: `npm run ${args.smoke ? "bench:smoke" : "bench"}${process.argv.slice(2).length ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
    machine: { ...machine, loadAverageAtEnd: loadavg() },
    sizes,
    apiServiceFile: apiServiceFile(),
    workerArgs: context.workerArgs,
    rows: context.rows,
    details: context.details,
    profiles,
    failures,
  };
  const resultFile = join(resultsDir, `${stamp}.json`);
  writeFileSync(resultFile, `${JSON.stringify(result, null, 2)}\n`);

  for (const summary of profiles) {
    const window = summary.lastMs ? `last ${summary.lastMs / 1000} s` : "whole run";
    process.stdout.write(`\n${summary.process} (${window}): ${renderProfile(summary)}\n`);
  }
  const notes = renderNotes(context.rows);
  process.stdout.write(`\n${renderTable(context.rows)}\n${notes ? `\n${notes}\n` : ""}\n`);
  process.stdout.write(
    `${machine.cpus} cores, load average ${machine.loadAverageAtStart.map((l) => l.toFixed(1)).join(" ")} at start; ` +
      `${Math.round((finishedAt.getTime() - startedAt.getTime()) / 1000)} s; results: ${resultFile}; logs: ${runDir}\n`,
  );
  for (const failure of failures) process.stdout.write(`FAILED ${failure}\n`);
  return failures.length ? 1 : 0;
}

async function cleanUp(): Promise<void> {
  await releaseClients();
  rmSync(context.tmpDir, { recursive: true, force: true });
  if (args.keep) {
    log.info({ database: databaseUrl, topics: context.topics }, "kept the bench database and topics (--keep)");
    return;
  }
  await deleteTopicsAndGroups(context.topics, context.groups).catch((error) =>
    log.warn({ err: error }, "could not delete topics"),
  );
  await dropDatabase(databaseUrl).catch((error) => log.warn({ err: error }, "could not drop the bench database"));
  if (!brokerWasUp) await stopNativeKafka(loadConfig());
}

// The servers and workers run in process groups of their own (so they can be stopped with what they
// fork); a Ctrl-C reaches only this process, which must stop them and clean up.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    log.warn({ signal }, "interrupted: stopping servers and workers, cleaning up");
    void stopAll()
      .then(cleanUp)
      .finally(() => process.exit(130));
  });
}

let exitCode = 1;
try {
  exitCode = await main();
} catch (error) {
  log.error({ err: error }, "bench failed");
} finally {
  await cleanUp();
}
process.exit(exitCode);
