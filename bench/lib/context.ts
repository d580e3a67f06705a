import type { Logger } from "pino";
import type { ResultRow } from "./report.js";

/** The API key the run's servers require (serverless.yml's routes are `private: true`); sent as x-api-key. */
export const BENCH_API_KEY = "txlog-bench-api-key-not-a-secret";

/** Sizes of one run: the full bench, or the smoke run that only checks the harness end to end. */
export interface BenchSizes {
  /** Stages 1 and 2: concurrent connections and seconds of load (after a warm-up). */
  httpConnections: number;
  httpDurationSec: number;
  warmupSec: number;
  /** Stage 3: transactions per POST /transactions and concurrent connections. */
  bulkSize: number;
  bulkConnections: number;
  /** Stage 3's reference: records Kafka's ProducerPerformance sends. */
  producerPerformanceRecords: number;
  /** Stage 4: transactions pre-filled into the topic, and worker processes sharing the consumer group. */
  drainRows: number;
  /** Stage 4 drains the topic once per count here (`--drain-workers N`: only N). */
  drainWorkerCounts: number[];
  /** Stage 5: the offered rate (tx/s), for how long, over how many connections. */
  e2eRate: number;
  e2eDurationSec: number;
  e2eConnections: number;
  /** Stage 9: the reads timed against the small table (the reference) and the large one, median of readSamples. */
  readsSmallRows: number;
  readsLargeRows: number;
  readSamples: number;
}

export const FULL_SIZES: BenchSizes = {
  httpConnections: 50,
  httpDurationSec: 10,
  warmupSec: 2,
  bulkSize: 500,
  bulkConnections: 8,
  producerPerformanceRecords: 500_000,
  drainRows: 200_000,
  drainWorkerCounts: [1, 2, 3],
  e2eRate: 1_000,
  e2eDurationSec: 20,
  e2eConnections: 100,
  readsSmallRows: 10_000,
  readsLargeRows: 10_000_000,
  // A page takes a few ms: the median of 9 keeps a ratio of two such figures steady on a busy machine.
  readSamples: 9,
};

export const SMOKE_SIZES: BenchSizes = {
  httpConnections: 10,
  httpDurationSec: 2,
  warmupSec: 0.5,
  bulkSize: 500,
  bulkConnections: 2,
  producerPerformanceRecords: 20_000,
  drainRows: 5_000,
  drainWorkerCounts: [1, 2, 3],
  e2eRate: 100,
  e2eDurationSec: 3,
  e2eConnections: 10,
  readsSmallRows: 1_000,
  readsLargeRows: 20_000,
  readSamples: 3,
};

/** What every stage gets: where to write, what to name things, how to start the pipeline's processes. */
export interface RunContext {
  runId: string;
  /** bench/results/<timestamp>/: process logs and CPU profiles. */
  runDir: string;
  /** Scratch space for esbuild bundles (under the git-ignored .esbuild/), removed at the end. */
  tmpDir: string;
  sizes: BenchSizes;
  databaseUrl: string;
  /** Request bodies from the PaySim sample, as clients send them. */
  bodies: string[];
  /** node flags for the API and worker processes (--cpu-prof when profiling). */
  profile: boolean;
  /** Extra flags for scripts/worker.ts (`--worker-args="--window 0"`); none measures it as `npm run worker` runs. */
  workerArgs: string[];
  log: Logger;
  /** Topics and consumer groups the run created, removed at the end. */
  topics: string[];
  groups: string[];
  rows: ResultRow[];
  details: Record<string, unknown>;
}

export function topicName(context: RunContext, purpose: string): string {
  const name = `bench.${context.runId}.${purpose}`;
  context.topics.push(name);
  return name;
}

export function groupName(context: RunContext, purpose: string): string {
  const name = `bench.${context.runId}.${purpose}`;
  context.groups.push(name);
  return name;
}
