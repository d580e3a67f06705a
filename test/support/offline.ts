import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { config, requiredApiKey } from "../../lib/config.js";
import { freePort } from "../../scripts/infra/index.js";

const REPO_ROOT = resolve(import.meta.dirname, "../..");
const SERVERLESS_BIN = join(REPO_ROOT, "node_modules/serverless/bin/serverless.js");

export interface OfflineServer {
  /** e.g. http://127.0.0.1:41234, no stage prefix. */
  baseUrl: string;
  httpPort: number;
  /** The server's process (serverless offline runs the handlers in it: useInProcess), e.g. for its RSS. */
  pid: number;
  /**
   * serverless-offline's Lambda invoke server (POST /2015-03-31/functions/{name}/invocations, no API key):
   * a Unix socket in a private (0700) temporary directory, as npm start has it.
   */
  lambdaSocket: string;
  /** The API key the server requires (x-api-key) on every route but the docs and /health. */
  apiKey: string;
  /** Headers with the API key, plus `extra`. */
  headers(extra?: Record<string, string>): Record<string, string>;
  /** The server's stdout and stderr so far (for failure messages). */
  output(): string;
  /** SIGTERM to the server's process group (the offline-kafka plugin then commits and disconnects), SIGKILL after a grace period. */
  stop(): Promise<void>;
}

export interface OfflineOptions {
  /** Added to this process's environment (which global-setup points at the test database and topics). */
  env?: Record<string, string>;
  /** Extra `serverless offline start` flags. */
  flags?: string[];
  /** Another service file in the repo root instead of serverless.yml (passed as --config). */
  config?: string;
  /** How long to wait for the server to answer HTTP. */
  startTimeoutMs?: number;
  /** Node flags of the server process (OFFLINE_NODE_FLAGS: the heap npm start gives it). */
  nodeFlags?: string[];
}

/**
 * Starts the real `serverless offline start` of this repo's serverless.yml as a child process, on free
 * HTTP/WebSocket ports, its Lambda invoke server on a private Unix socket, and with an esbuild work
 * folder of its own (so servers started by parallel test files or other sessions never overwrite each
 * other's bundles), and resolves once it answers HTTP.
 */
export async function startOffline(options: OfflineOptions = {}): Promise<OfflineServer> {
  const [httpPort, websocketPort] = [await freePort(), await freePort()];
  // mkdtemp makes the directory 0700: only this user can reach the socket, whatever the umask.
  const lambdaSocketDir = mkdtempSync(join(tmpdir(), "txlog-lambda-"));
  const lambdaSocket = join(lambdaSocketDir, "invoke.sock");
  // serverless-esbuild joins this onto the service directory; .esbuild/ is git-ignored.
  const workFolder = join(".esbuild", `test-${randomUUID().slice(0, 8)}`);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...options.env,
    HTTP_PORT: String(httpPort),
    LAMBDA_PORT: lambdaSocket,
    WEBSOCKET_PORT: String(websocketPort),
    ESBUILD_WORK_FOLDER: workFolder,
    SLS_TELEMETRY_DISABLED: "1",
    SLS_NOTIFICATIONS_MODE: "off",
  };
  const child = spawn(
    process.execPath,
    [
      ...(options.nodeFlags ?? []),
      SERVERLESS_BIN,
      "offline",
      "start",
      ...(options.config ? ["--config", options.config] : []),
      ...(options.flags ?? []),
    ],
    {
      cwd: REPO_ROOT,
      env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-200_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<void>((resolveExit) => child.once("exit", () => resolveExit()));

  const apiKey = env.API_KEY ?? requiredApiKey(config);
  const server: OfflineServer = {
    baseUrl: `http://127.0.0.1:${httpPort}`,
    httpPort,
    pid: child.pid as number,
    lambdaSocket,
    apiKey,
    headers: (extra = {}) => ({ "x-api-key": apiKey, ...extra }),
    output: () => output,
    stop: async () => {
      await stopGroup(child, exited);
      rmSync(join(REPO_ROOT, workFolder), { recursive: true, force: true });
      rmSync(lambdaSocketDir, { recursive: true, force: true });
    },
  };

  const deadline = Date.now() + (options.startTimeoutMs ?? 90_000);
  while (Date.now() < deadline) {
    // The framework prints "Error:" on a line of its own when start-up failed; it may not exit (open handles).
    if (child.exitCode !== null || child.signalCode !== null || /^Error:$/m.test(output)) {
      await server.stop();
      throw new Error(`serverless offline start failed before answering:\n${output}`);
    }
    if (await answersHttp(server.baseUrl)) return server;
    await sleep(200);
  }
  await server.stop();
  throw new Error(`serverless offline start did not answer on ${server.baseUrl} within the timeout:\n${output}`);
}

async function answersHttp(baseUrl: string): Promise<boolean> {
  try {
    // Any HTTP answer (hapi's 404 for "/") means the server is listening with its routes registered.
    const response = await fetch(`${baseUrl}/`, { signal: AbortSignal.timeout(1_000) });
    await response.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

async function stopGroup(child: ChildProcess, exited: Promise<void>, graceMs = 20_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      // Negative pid: the whole group (serverless, esbuild's service process), started detached above.
      process.kill(-(child.pid as number), signal);
    } catch {
      // Already gone.
    }
  };
  signalGroup("SIGTERM");
  const stopped = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!stopped) {
    signalGroup("SIGKILL");
    await exited;
  }
}
