import { mkdirSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { freePort } from "../../scripts/infra/index.js";
import { type ManagedProcess, portAnswers, startProcess, waitUntil } from "./processes.js";

export const REPO_ROOT = resolve(import.meta.dirname, "../..");
const SERVERLESS_BIN = join(REPO_ROOT, "node_modules/serverless/bin/serverless.js");

export interface OfflineServer {
  process: ManagedProcess;
  baseUrl: string;
  stop(): Promise<void>;
}

export interface OfflineOptions {
  name: string;
  /** The directory holding serverless.yml (the repo root, or bench/noop). */
  serviceDir: string;
  env: NodeJS.ProcessEnv;
  /** Process logs go here. */
  runDir: string;
  /** The esbuild work folder goes here (under the repo's git-ignored .esbuild/). */
  tmpDir: string;
  /** Extra CLI flags for `serverless offline start`. */
  flags?: readonly string[];
  /** Extra node flags (e.g. --cpu-prof; node refuses it in NODE_OPTIONS) for the server's process. */
  nodeOptions?: readonly string[];
}

/**
 * Starts the real `serverless offline start` (serverless-esbuild bundling included) on free ports, with
 * an esbuild work folder of its own so parallel servers do not overwrite each other's bundles.
 */
export async function startOffline(options: OfflineOptions): Promise<OfflineServer> {
  const httpPort = await freePort();
  const lambdaPort = await freePort();
  const websocketPort = await freePort();
  const workFolder = join(options.tmpDir, `esbuild-${options.name}`);
  mkdirSync(workFolder, { recursive: true });
  // serverless-esbuild joins the folder onto the service directory, so it must be relative to it.
  const relativeWorkFolder = relative(options.serviceDir, workFolder);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...options.env,
    HTTP_PORT: String(httpPort),
    LAMBDA_PORT: String(lambdaPort),
    WEBSOCKET_PORT: String(websocketPort),
    ESBUILD_WORK_FOLDER: relativeWorkFolder,
    SLS_TELEMETRY_DISABLED: "1",
    SLS_NOTIFICATIONS_MODE: "off",
  };
  const child = startProcess(
    options.name,
    process.execPath,
    [...(options.nodeOptions ?? []), SERVERLESS_BIN, "offline", "start", ...(options.flags ?? [])],
    {
      cwd: options.serviceDir,
      env,
      logFile: join(options.runDir, `${options.name}.log`),
    },
  );
  try {
    await waitUntil(`${options.name} listening on ${httpPort}`, () => portAnswers(httpPort), {
      timeoutMs: 90_000,
      intervalMs: 200,
      process: child,
    });
  } catch (error) {
    await child.stop();
    throw error;
  }
  return { process: child, baseUrl: `http://127.0.0.1:${httpPort}`, stop: () => child.stop() };
}
