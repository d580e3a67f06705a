import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
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
    // Per-request log lines cost measurable time (shared/notes/measured-facts.md); warnings still show.
    LOG_LEVEL: "warn",
    API_KEY: BENCH_API_KEY,
    ...extra,
  };
}

/**
 * The HTTP API alone: serverless.yml as `npm start` runs it, minus the consume function, whose local
 * Kafka trigger would otherwise poll in the same process and compete with the API for the CPU (on AWS
 * they are separate Lambdas). Serverless reads a service file only from the service's root folder, so
 * the bench writes this view of serverless.yml there for the run (every block is a ${file()} reference,
 * so it cannot drift) and removes it at the end.
 */
const API_ONLY_SERVICE = `# Written by npm run bench (bench/lib/pipeline.ts) for one run, removed when it ends.
service: \${file(./serverless.yml):service}
frameworkVersion: "3"
plugins:
  - serverless-esbuild
  - serverless-offline
provider: \${file(./serverless.yml):provider}
package: \${file(./serverless.yml):package}
custom: \${file(./serverless.yml):custom}
functions:
  transaction: \${file(./serverless.yml):functions.transaction}
  transactions: \${file(./serverless.yml):functions.transactions}
`;

let serviceFile: string | undefined;
let generated = false;

/** Writes the API-only service file, unless `override` names one of the repo root's (`--api-config`). */
export function prepareApiServiceFile(runId: string, override?: string): string {
  if (override) {
    serviceFile = override;
    return serviceFile;
  }
  serviceFile = `.bench-api.${runId}.yml`;
  writeFileSync(join(REPO_ROOT, serviceFile), API_ONLY_SERVICE);
  generated = true;
  return serviceFile;
}

export function removeApiServiceFile(): void {
  if (serviceFile && generated) rmSync(join(REPO_ROOT, serviceFile), { force: true });
}

export function apiServiceFile(): string {
  if (!serviceFile) throw new Error("prepareApiServiceFile() first");
  return serviceFile;
}

export async function startApi(context: RunContext, name: string, topic: string): Promise<OfflineServer> {
  const flags = ["--config", apiServiceFile()];
  return startOffline({
    name,
    serviceDir: REPO_ROOT,
    env: pipelineEnv(context, topic),
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

export function startWorker(context: RunContext, name: string, topic: string, group: string): ManagedProcess {
  if (!existsSync(join(REPO_ROOT, WORKER_ENTRY))) throw new Error(`${WORKER_ENTRY} does not exist yet`);
  const args = [...profileFlags(context, name), "--import", "tsx", WORKER_ENTRY, ...context.workerArgs];
  return startProcess(name, process.execPath, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...pipelineEnv(context, topic, { CONSUMER_GROUP_ID: group }) },
    logFile: join(context.runDir, `${name}.log`),
  });
}
