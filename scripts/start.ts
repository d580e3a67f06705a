/**
 * npm start [-- <extra serverless offline flags>]
 * Everything local in one command: Kafka and PostgreSQL up (scripts/infra), migrations applied, the
 * transactions and dead-letter topics created if missing, then `serverless offline start` (HTTP API +
 * the offline-kafka trigger running the consume function). SIGINT/SIGTERM go to the server, which
 * finishes and commits the batch in flight; this process exits with its code.
 */
import "./infra/local-env.js";
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { loadConfig } from "../lib/config.js";
import { migrateDatabase } from "../lib/db/client.js";
import { ensureTopics } from "../lib/kafka/admin.js";
import { logger } from "../lib/logger.js";
import { applyRecordedDatabaseUrl, infraSettings, infraUp } from "./infra/index.js";

const log = logger.child({ component: "start" });
const REPO_ROOT = resolve(import.meta.dirname, "..");
const SERVERLESS_BIN = resolve(REPO_ROOT, "node_modules/serverless/bin/serverless.js");

/** serverless-offline binds 127.0.0.1 (serverless.yml); "localhost" works for clients too. */
function urls(port: number): Record<string, string> {
  const base = `http://localhost:${port}`;
  return {
    "POST /transaction": `${base}/transaction`,
    "POST /transactions": `${base}/transactions`,
    "GET /transactions/{id}": `${base}/transactions/{id}`,
    "GET /reports": `${base}/reports`,
  };
}

async function answersHttp(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1_000) });
    await response.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  const startedAt = performance.now();
  await infraUp(loadConfig(), (message) => log.info({ step: "infra" }, message));
  // Re-read: infra:up may have started a private PostgreSQL and recorded its URL.
  applyRecordedDatabaseUrl();
  const config = loadConfig();
  const { HTTP_PORT } = infraSettings;

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

  const server = spawn(process.execPath, [SERVERLESS_BIN, "offline", "start", ...process.argv.slice(2)], {
    cwd: REPO_ROOT,
    // The database infra:up found or started, whatever the shell had; the rest passes through.
    env: { ...process.env, DATABASE_URL: config.DATABASE_URL, SLS_TELEMETRY_DISABLED: "1", SLS_NOTIFICATIONS_MODE: "off" },
    stdio: "inherit",
    // Its own process group: a terminal's Ctrl-C reaches it once, through us, not twice.
    detached: true,
  });
  log.info({ step: "serverless", pid: server.pid }, "serverless offline start");

  let stopping = false;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, "stopping: the server finishes and commits the batch in flight");
      server.kill(signal);
    });
  }

  const exited = new Promise<number>((resolveExit) =>
    server.once("exit", (code, signal) => resolveExit(code ?? (signal === "SIGINT" || signal === "SIGTERM" ? 0 : 1))),
  );

  const ready = (async () => {
    while (server.exitCode === null && server.signalCode === null) {
      if (await answersHttp(HTTP_PORT)) return true;
      await sleep(250);
    }
    return false;
  })();
  if (await ready) {
    log.info({ step: "ready", ms: Math.round(performance.now() - startedAt), urls: urls(HTTP_PORT) }, "txlog is up");
    const lines = Object.entries(urls(HTTP_PORT)).map(([route, url]) => `  ${route.padEnd(24)} ${url}`);
    process.stdout.write(`\ntxlog is up (Ctrl-C to stop):\n${lines.join("\n")}\n\n`);
  }

  const code = await exited;
  log.info({ code }, "serverless offline exited");
  process.exit(code);
}

main().catch((error: unknown) => {
  log.fatal({ err: error }, error instanceof Error ? error.message : String(error));
  process.exit(1);
});
