/**
 * npm run worker -- [--topic T] [--group G] [--batch-size 500] [--window 0] [--from trim-horizon|latest]
 *                    [--session-timeout 30] [--timeout 60] [--retries 10] [--bisect true|false]
 *                    [--on-failure kafka://<topic>|none]
 * The local Kafka trigger of `serverless offline start` as a standalone process (compose's worker
 * service): a kafkajs consumer group that builds MSK events and invokes handlers/consume.handler.
 * Several workers can share the group; Kafka splits the partitions between them.
 * SIGINT/SIGTERM: finish and commit the batch in flight, disconnect, print a summary, exit 0.
 * A database outage pauses the partitions until PostgreSQL answers again (plugins/offline-kafka/retry.ts).
 * --session-timeout (seconds, >= 6): how soon the group hands a crashed worker's partitions to the others.
 * --timeout (the function's, seconds), --retries (maximumRetryAttempts; forever: --retries=-1), --bisect
 * (bisectBatchOnFunctionError) and --on-failure (default kafka://$DEAD_LETTER_TOPIC; none = discard):
 * Lambda's error handling, as serverless.yml's custom.offlineKafka.consume gives it.
 */

import "./infra/local-env.js";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { config } from "../lib/config.js";
import type { BatchSummary } from "../lib/consumer/persist.js";
import { logger } from "../lib/logger.js";
import { definitionFromOptions, startPollers } from "../plugins/offline-kafka/index.js";

const log = logger.child({ component: "worker" });

// Defaults mirror the consume function's msk event in serverless.yml.
const { values } = parseArgs({
  options: {
    topic: { type: "string", default: config.TRANSACTIONS_TOPIC },
    group: { type: "string", default: config.CONSUMER_GROUP_ID },
    "batch-size": { type: "string", default: "500" },
    window: { type: "string", default: "0" },
    from: { type: "string", default: "trim-horizon" },
    "session-timeout": { type: "string", default: "30" },
    timeout: { type: "string", default: "60" },
    retries: { type: "string", default: "10" },
    bisect: { type: "string", default: "true" },
    "on-failure": { type: "string", default: `kafka://${config.DEAD_LETTER_TOPIC}` },
  },
});

const PROGRESS_EVERY_MS = 10_000;
const HANDLER = "handlers/consume.handler";

async function main(): Promise<void> {
  const definition = definitionFromOptions({
    functionKey: "consume",
    handler: HANDLER,
    topic: values.topic,
    consumerGroupId: values.group,
    batchSize: values["batch-size"],
    maximumBatchingWindow: values.window,
    startingPosition: values.from,
    maximumRetryAttempts: values.retries,
    bisectBatchOnFunctionError: values.bisect,
    onFailureDestination: values["on-failure"],
  });

  const started = performance.now();
  const totals = { inserted: 0, duplicates: 0, deadLettered: 0 };
  const sessionTimeoutSeconds = Number(values["session-timeout"]);
  if (!Number.isFinite(sessionTimeoutSeconds) || sessionTimeoutSeconds < 6 || sessionTimeoutSeconds > 300) {
    throw new Error(`--session-timeout must be 6..300 seconds, got "${values["session-timeout"]}"`);
  }
  // Lambda's limit: 900 s.
  const timeoutSeconds = Number(values.timeout);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds < 1 || timeoutSeconds > 900) {
    throw new Error(`--timeout must be 1..900 seconds, got "${values.timeout}"`);
  }
  const running = await startPollers({
    servicePath: resolve(import.meta.dirname, ".."),
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
    log.info({ ...poller.stats, ...totals, seconds: Math.round((performance.now() - started) / 1000) }, "worker stopped");
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  log.info({ topic: definition.topic, groupId: definition.consumerGroupId, batchSize: definition.batchSize }, "worker started");
}

main().catch((error: unknown) => {
  log.fatal({ err: error }, "worker failed");
  process.exit(1);
});
