/**
 * npm run worker -- [--topic T] [--group G] [--batch-size 1000] [--window 0] [--from trim-horizon|latest]
 *                    [--session-timeout 30] [--timeout 60] [--retries -1] [--bisect true|false]
 *                    [--on-failure kafka://<topic>|none] [--metrics-port 9464] [--metrics-host 127.0.0.1]
 * The local Kafka trigger of `serverless offline start` as a standalone process (compose's worker
 * service): a kafkajs consumer group that builds MSK events and invokes handlers/consume.handler.
 * Several workers can share the group; Kafka splits the partitions between them.
 * SIGINT/SIGTERM: finish and commit the batch in flight, disconnect, print a summary, exit 0.
 * A database or broker outage (by SQLSTATE class and error type, lib/failures.ts) holds the batch and pauses
 * its partitions, retried with backoff until stored: never counted, bisected or dead-lettered.
 * --session-timeout (seconds, >= 6): how soon the group hands a crashed worker's partitions to the others.
 * --timeout (the function's, seconds), --retries (maximumRetryAttempts; forever: --retries=-1), --bisect
 * (bisectBatchOnFunctionError) and --on-failure (kafka://<topic>; default none): Lambda's error handling,
 * defaulting to serverless.yml's consume msk event (retry forever: only content is poison, and the consume
 * function dead-letters that itself).
 */

import { resolve } from "node:path";
import { definitionFromOptions, KafkaEventDefinitionError } from "serverless-offline-kafka-trigger";
import { config, requiredApiKey } from "../../lib/config.js";
import type { BatchSummary } from "../../lib/consumer/persist.js";
import { logger } from "../../lib/logger.js";
import { startTxlogPollers } from "../../plugins/offline-kafka/binding.js";
import { cliCommand, numberBetween, parseOrExit, usageError } from "../cli/args.js";
import { describeError } from "../cli/run.js";
import { DEFAULT_METRICS_PORT, type MetricsServer, serveMetrics } from "./metrics-server.js";

const log = logger.child({ component: "worker" });

const HANDLER = "handlers/consume.handler";

// Defaults mirror the consume function's msk event in serverless.yml. The trigger's own parser
// (definitionFromOptions) checks the event settings; a value it refuses is a usage mistake too.
const command = parseOrExit(
  cliCommand(
    "npm run worker --",
    "The local Kafka trigger of `serverless offline start` as a standalone process: a consumer group that builds MSK events and invokes handlers/consume.handler. Several workers share the group. SIGINT/SIGTERM: finish and commit the batch in flight, print a summary, exit 0.",
  )
    .option("--topic <topic>", "the topic to consume", config.TRANSACTIONS_TOPIC)
    .option("--group <id>", "the consumer group", config.CONSUMER_GROUP_ID)
    .option("--batch-size <n>", "records per invocation at most (batchSize)", "1000")
    .option("--window <seconds>", "how long a batch may wait to fill (maximumBatchingWindow)", "0")
    .option("--from <position>", "where a new group starts: trim-horizon or latest", "trim-horizon")
    .option(
      "--session-timeout <seconds>",
      "how soon the group hands a crashed worker's partitions to the others (6 to 300)",
      numberBetween(6, 300, "seconds"),
      30,
    )
    .option("--timeout <seconds>", "the function's timeout (1 to 900, Lambda's limit)", numberBetween(1, 900, "seconds"), 60)
    .option("--retries <n>", "maximumRetryAttempts of a failed batch; -1: forever", "-1")
    .option("--bisect <bool>", "bisectBatchOnFunctionError: true or false", "false")
    .option("--on-failure <destination>", "where records given up on go: kafka://<topic>, or none to discard them", "none")
    .option(
      "--metrics-port <port>",
      "serve GET /metrics (Prometheus text, x-api-key required) on this port; 0: none",
      numberBetween(0, 65_535, "(a TCP port)"),
      DEFAULT_METRICS_PORT,
    )
    .option("--metrics-host <address>", "the address the metrics port listens on", "127.0.0.1"),
);
const values = command.opts();

function definitionOrUsage() {
  try {
    return definitionFromOptions({
      functionKey: "consume",
      handler: HANDLER,
      topic: values.topic,
      consumerGroupId: values.group,
      batchSize: values.batchSize,
      maximumBatchingWindow: values.window,
      startingPosition: values.from,
      maximumRetryAttempts: values.retries,
      bisectBatchOnFunctionError: values.bisect,
      onFailureDestination: values.onFailure,
    });
  } catch (error) {
    if (error instanceof KafkaEventDefinitionError) usageError(command, error.message);
    throw error;
  }
}

const PROGRESS_EVERY_MS = 10_000;

/**
 * The worker's own GET /metrics (scripts/worker/metrics-server.ts). A port already taken (another worker on
 * this machine) costs only the metrics: the worker consumes on and says so.
 */
async function startMetricsServer(): Promise<MetricsServer | undefined> {
  if (values.metricsPort === 0) return undefined;
  // Outside the try: a missing key is a configuration error to stop on, not a busy port.
  const apiKey = requiredApiKey(config);
  try {
    const server = await serveMetrics({ port: values.metricsPort, host: values.metricsHost, apiKey });
    log.info({ url: server.url }, "metrics served (x-api-key required)");
    return server;
  } catch (error) {
    log.warn({ err: error, port: values.metricsPort }, "metrics port not available; this worker serves no metrics");
    return undefined;
  }
}

async function main(): Promise<void> {
  const definition = definitionOrUsage();

  const started = performance.now();
  const totals = { inserted: 0, duplicates: 0, deadLettered: 0 };
  const sessionTimeoutSeconds = values.sessionTimeout;
  const timeoutSeconds = values.timeout;
  const running = await startTxlogPollers({
    servicePath: resolve(import.meta.dirname, "../.."),
    definitions: [definition],
    timeouts: { [definition.functionKey]: timeoutSeconds },
    poller: { sessionTimeoutMs: Math.round(sessionTimeoutSeconds * 1000) },
    onResult: (_definition, result) => {
      const summary = result as Partial<BatchSummary> | undefined;
      totals.inserted += summary?.inserted ?? 0;
      totals.duplicates += summary?.duplicates ?? 0;
      totals.deadLettered += summary?.deadLettered ?? 0;
    },
  });
  const [poller] = running.pollers;
  if (!poller) throw new Error("no poller started");
  const metricsServer = await startMetricsServer();

  const progress = setInterval(() => {
    log.info({ ...poller.stats, ...totals, seconds: Math.round((performance.now() - started) / 1000) }, "progress");
  }, PROGRESS_EVERY_MS);

  let exiting = false;
  const shutdown = async (signal: string) => {
    if (exiting) return;
    exiting = true;
    log.info({ signal }, "stopping: finishing the batch in flight");
    clearInterval(progress);
    await running.stop();
    await metricsServer?.close();
    log.info({ ...poller.stats, ...totals, seconds: Math.round((performance.now() - started) / 1000) }, "worker stopped");
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  log.info({ topic: definition.topic, groupId: definition.consumerGroupId, batchSize: definition.batchSize }, "worker started");
}

main().catch((error: unknown) => {
  log.fatal({ err: error }, "worker failed");
  process.stderr.write(`worker failed: ${describeError(error)}\n`);
  process.exit(1);
});
