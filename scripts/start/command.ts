/**
 * npm start [-- -- <serverless offline start options>]
 * Everything local in one command: Kafka and PostgreSQL up (scripts/infra), migrations applied, the
 * transactions and dead-letter topics created if missing, then `serverless offline start` (HTTP API +
 * the offline-kafka trigger running the consume function). SIGINT/SIGTERM go to the server, which
 * finishes and commits the batch in flight; this process exits with its code.
 *
 * The server listens on HTTP_HOST (127.0.0.1 unless told otherwise). Its Lambda invoke server, which
 * runs any function without the API key, is a Unix socket in a private temporary directory unless
 * LAMBDA_PORT says otherwise. The API key is printed here, in the terminal, and nowhere else.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { DEVELOPMENT_API_KEY, loadConfig, requiredApiKey } from "../../lib/config.js";
import { migrateDatabase } from "../../lib/db/client.js";
import { ensureTopics } from "../../lib/kafka/admin.js";
import { logger } from "../../lib/logger.js";
import { cliCommand, parseOrExit, usageError } from "../cli/args.js";
import { describeError } from "../cli/run.js";
import { applyRecordedInfra, infraSettings, infraUp, OFFLINE_NODE_FLAGS } from "../infra/index.js";

// start has no options of its own: whatever follows a `--` goes to `serverless offline start`, which
// checks it itself (so a mistyped option of ours is never passed on, nor one of its taken for ours).
const argv = process.argv.slice(2);
const command = parseOrExit(
  cliCommand(
    "npm start --",
    "Everything local in one command: Kafka and PostgreSQL up (infra:up), migrations applied, the transactions and dead-letter topics created, then `serverless offline start` (the HTTP API on HTTP_HOST:HTTP_PORT, 127.0.0.1:3000, and the local Kafka trigger). Prints the URLs and the API key. Ctrl-C stops the server after it committed the batch in flight.",
  )
    .option(
      "--watch",
      "rebuild the functions' bundles when their sources change (serverless-esbuild's watcher and incremental contexts: 0.7-1.7 GB more RSS; off by default)",
      false,
    )
    .argument(
      "[serverless-options...]",
      "after --: options for serverless offline start (npx sls offline start --help lists them)",
    )
    .addHelpText("after", "\nExample: npm start -- -- --noTimeout   (npm takes the first --, start the second)"),
  argv,
);
const separator = argv.indexOf("--");
if (command.args.length > 0 && separator === -1) {
  usageError(command, `unexpected argument '${command.args[0]}': options for serverless offline start go after --`);
}
const serverlessOptions = separator === -1 ? [] : argv.slice(separator + 1);

const log = logger.child({ component: "start" });
const REPO_ROOT = resolve(import.meta.dirname, "../..");
const SERVERLESS_BIN = resolve(REPO_ROOT, "node_modules/serverless/bin/serverless.js");

/** serverless-offline binds HTTP_HOST (127.0.0.1 by default, serverless.yml); "localhost" works for clients too. */
function urls(port: number): Record<string, string> {
  const base = `http://localhost:${port}`;
  return {
    Dashboard: `${base}/`,
    "POST /transaction": `${base}/transaction`,
    "POST /transactions": `${base}/transactions`,
    "GET /transactions/{id}": `${base}/transactions/{id}`,
    "GET /reports": `${base}/reports`,
    "Swagger UI": `${base}/docs`,
    "GET /metrics": `${base}/metrics`,
  };
}

/**
 * The key, for the terminal only: never logged (pino lines end up in files) and never served (GET /docs
 * asks for it under Authorize). When stdout is not a terminal (compose, CI, a redirect into a file) only
 * the public development key is printed.
 */
function apiKeyLine(apiKey: string): string {
  const shown = process.stdout.isTTY || apiKey === DEVELOPMENT_API_KEY;
  const value = shown ? apiKey : "(the value of API_KEY; not printed: stdout is not a terminal)";
  return `  ${"x-api-key".padEnd(24)} ${value}   (Swagger UI: Authorize)`;
}

/** Where to probe the server: its own address, or loopback when it listens on every interface. */
function probeHost(host: string): string {
  if (host === "0.0.0.0" || host === "::") return "127.0.0.1";
  return host.includes(":") ? `[${host}]` : host;
}

async function answersHttp(host: string, port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://${host}:${port}/`, { signal: AbortSignal.timeout(1_000) });
    await response.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

/** True when something already listens on host:port (an address we may not bind also counts as taken). */
function portTaken(host: string, port: number): Promise<boolean> {
  return new Promise((resolveTaken) => {
    const probe = createServer();
    probe.once("error", (error: NodeJS.ErrnoException) => resolveTaken(error.code === "EADDRINUSE" || error.code === "EACCES"));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolveTaken(false)));
  });
}

/**
 * Before anything else: serverless offline would find a taken port only after bundling (~15 s) and then print
 * a stack trace. One line instead, and nothing of the server already running there is touched.
 */
async function refuseTakenPorts(): Promise<void> {
  const { HTTP_HOST, HTTP_PORT, WEBSOCKET_PORT, LAMBDA_PORT } = infraSettings;
  const ports: [string, number][] = [
    ["HTTP_PORT", HTTP_PORT],
    ["WEBSOCKET_PORT", WEBSOCKET_PORT],
    ...(typeof LAMBDA_PORT === "number" ? ([["LAMBDA_PORT", LAMBDA_PORT]] as [string, number][]) : []),
  ];
  for (const [name, port] of ports) {
    if (await portTaken(HTTP_HOST, port)) {
      throw new Error(
        `${HTTP_HOST}:${port} (${name}) is already in use, by another npm start or another program: stop it, or set ${name} to a free port`,
      );
    }
  }
}

async function main(): Promise<void> {
  const startedAt = performance.now();
  await refuseTakenPorts();
  await infraUp(loadConfig(), (message) => log.info({ step: "infra" }, message));
  // Re-read: infra:up may have started a private PostgreSQL and recorded its URL.
  applyRecordedInfra();
  const config = loadConfig();
  const { HTTP_PORT, HTTP_HOST } = infraSettings;

  await migrateDatabase(config.DATABASE_URL);
  log.info({ step: "migrate", database: new URL(config.DATABASE_URL).pathname.slice(1) }, "migrations applied");

  const created = await ensureTopics([config.TRANSACTIONS_TOPIC, config.DEAD_LETTER_TOPIC]);
  log.info(
    {
      step: "topics",
      created,
      topics: [config.TRANSACTIONS_TOPIC, config.DEAD_LETTER_TOPIC],
      partitions: config.TOPIC_PARTITIONS,
    },
    created.length ? "topics created" : "topics exist",
  );

  // serverless-offline always serves a Lambda invoke API (every function, no API key) and cannot turn it
  // off: unless LAMBDA_PORT names a port or socket, it is a Unix socket in a directory only we can enter
  // (mkdtemp: mode 0700), removed on exit.
  const lambdaSocketDir = infraSettings.LAMBDA_PORT === undefined ? mkdtempSync(join(tmpdir(), "txlog-lambda-")) : undefined;
  const lambdaPort = lambdaSocketDir ? join(lambdaSocketDir, "invoke.sock") : String(infraSettings.LAMBDA_PORT);
  // Memory for a server that answers a developer (npm run bench, stage 6; the bench's API stages run serverless
  // offline without these).
  const server = spawn(process.execPath, [...OFFLINE_NODE_FLAGS, SERVERLESS_BIN, "offline", "start", ...serverlessOptions], {
    cwd: REPO_ROOT,
    // The database infra:up found or started, whatever the shell had; the rest passes through.
    env: {
      ...process.env,
      DATABASE_URL: config.DATABASE_URL,
      LAMBDA_PORT: lambdaPort,
      SLS_TELEMETRY_DISABLED: "1",
      SLS_NOTIFICATIONS_MODE: "off",
      // plugins/offline-memory.cjs: without it, no watcher, no incremental contexts, no esbuild service process.
      TXLOG_WATCH: command.opts().watch ? "true" : "false",
    },
    stdio: "inherit",
    // Its own process group: a terminal's Ctrl-C reaches it once, through us, not twice.
    detached: true,
  });
  log.info({ step: "serverless", pid: server.pid, host: HTTP_HOST, lambdaInvoke: lambdaPort }, "serverless offline start");

  let stopping = false;
  // SIGHUP (the terminal closed) too: the server runs in its own process group and would outlive us,
  // holding the port and the invoke socket. serverless-offline stops gracefully on SIGINT/SIGTERM only.
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, "stopping: the server finishes and commits the batch in flight");
      server.kill(signal === "SIGHUP" ? "SIGTERM" : signal);
    });
  }

  const exited = new Promise<number>((resolveExit) =>
    server.once("exit", (code, signal) => {
      if (lambdaSocketDir) rmSync(lambdaSocketDir, { recursive: true, force: true });
      resolveExit(code ?? (signal === "SIGINT" || signal === "SIGTERM" ? 0 : 1));
    }),
  );

  const ready = (async () => {
    while (server.exitCode === null && server.signalCode === null) {
      if (await answersHttp(probeHost(HTTP_HOST), HTTP_PORT)) return true;
      await sleep(250);
    }
    return false;
  })();
  if (await ready) {
    log.info({ step: "ready", ms: Math.round(performance.now() - startedAt), urls: urls(HTTP_PORT) }, "txlog is up");
    const lines = Object.entries(urls(HTTP_PORT)).map(([route, url]) => `  ${route.padEnd(24)} ${url}`);
    lines.push(apiKeyLine(requiredApiKey(config)));
    process.stdout.write(`\ntxlog is up (Ctrl-C to stop):\n${lines.join("\n")}\n\n`);
  }
  // From here on this process only waits for the server: give back what infra:up, the migrations and the
  // topic set-up left on the heap (package.json starts it with --expose-gc; docs/performance.md, stage 6).
  (globalThis as { gc?: () => void }).gc?.();

  const code = await exited;
  log.info({ code }, "serverless offline exited");
  process.exit(code);
}

main().catch((error: unknown) => {
  // One line, no stack: what failed is almost always the machine (no Java, a port taken), not the code.
  process.stderr.write(`start failed: ${describeError(error)}\n`);
  process.exit(1);
});
