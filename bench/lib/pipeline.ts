import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BENCH_API_KEY, type RunContext } from "./context.js";
import { type OfflineServer, REPO_ROOT, startOffline } from "./offline.js";
import { type ManagedProcess, startProcess } from "./processes.js";

/** Node flags that make a process write a V8 CPU profile into the run's folder when it exits. */
export function profileFlags(context: RunContext, name: string): string[] {
  if (!context.profile) return [];
  const dir = join(context.runDir, "profiles", name);
  mkdirSync(dir, { recursive: true });
  return ["--cpu-prof", `--cpu-prof-dir=${dir}`];
}

export function profileDir(context: RunContext, name: string): string {
  return join(context.runDir, "profiles", name);
}

/** The environment the pipeline's processes get: the run's database and topics, quiet logs. */
export function pipelineEnv(context: RunContext, topic: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    DATABASE_URL: context.databaseUrl,
    TRANSACTIONS_TOPIC: topic,
    DEAD_LETTER_TOPIC: `${topic}.dead-letter`,
    // Per-request log lines cost measurable time; warnings still show.
    LOG_LEVEL: "warn",
    API_KEY: BENCH_API_KEY,
    ...extra,
  };
}

/**
 * The HTTP API alone: serverless.yml exactly as `npm start` runs it, with its local Kafka trigger off
 * (OFFLINE_KAFKA_ENABLED=false), since that would otherwise consume in the same process and compete
 * with the API for the CPU (on AWS they are separate Lambdas). `--api-config <file>` measures another
 * service file of the repo root instead (an A/B of a candidate configuration).
 */
let serviceFile = "serverless.yml";

export function setApiServiceFile(override: string | undefined): void {
  serviceFile = override ?? "serverless.yml";
}

export function apiServiceFile(): string {
  return serviceFile;
}

/**
 * `trigger: true`: the API as `npm start` runs it, its local Kafka trigger consuming the topic in the same
 * process and storing into the run's database (a consumer group of the topic's own).
 */
export async function startApi(
  context: RunContext,
  name: string,
  topic: string,
  { trigger = false }: { trigger?: boolean } = {},
): Promise<OfflineServer> {
  const flags = serviceFile === "serverless.yml" ? [] : ["--config", serviceFile];
  const consumer = trigger
    ? { OFFLINE_KAFKA_ENABLED: "true", CONSUMER_GROUP_ID: `${topic}.consume` }
    : { OFFLINE_KAFKA_ENABLED: "false" };
  if (trigger) context.groups.push(`${topic}.consume`);
  return startOffline({
    name,
    serviceDir: REPO_ROOT,
    env: pipelineEnv(context, topic, consumer),
    runDir: context.runDir,
    tmpDir: context.tmpDir,
    flags,
    nodeOptions: profileFlags(context, name),
  });
}

/** The no-op service of bench/noop: the same serverless-offline settings, nothing behind the handler. */
export async function startNoop(context: RunContext, name: string): Promise<OfflineServer> {
  return startOffline({
    name,
    serviceDir: join(REPO_ROOT, "bench/noop"),
    env: { LOG_LEVEL: "warn", API_KEY: BENCH_API_KEY },
    runDir: context.runDir,
    tmpDir: context.tmpDir,
    nodeOptions: profileFlags(context, name),
  });
}

/** The standalone worker (`npm run worker`: the local Kafka poller invoking the consume handler). */
export const WORKER_ENTRY = "scripts/worker.ts";
/**
 * `npm run worker`'s node flags, read from package.json so the bench runs the worker as users do (docs/performance.md
 * says why each is there: young-generation semi-spaces of 32 MB, an old space collected once it doubles).
 */
export const WORKER_NODE_FLAGS = workerScriptFlags();

function workerScriptFlags(): string[] {
  const { scripts } = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
  return (scripts.worker ?? "").split(" ").filter((arg) => arg.startsWith("--") && arg !== "--import");
}

export function startWorker(context: RunContext, name: string, topic: string, group: string): ManagedProcess {
  if (!existsSync(join(REPO_ROOT, WORKER_ENTRY))) throw new Error(`${WORKER_ENTRY} does not exist yet`);
  const args = [...profileFlags(context, name), ...WORKER_NODE_FLAGS, "--import", "tsx", WORKER_ENTRY, ...context.workerArgs];
  return startProcess(name, process.execPath, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...pipelineEnv(context, topic, { CONSUMER_GROUP_ID: group }) },
    logFile: join(context.runDir, `${name}.log`),
  });
}
