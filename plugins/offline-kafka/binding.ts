import {
  type FailedRecordFormatter,
  FunctionTimeoutError,
  failureDetail,
  failureReason,
  type RunningPollers,
  type ServerlessService,
  type StartPollersOptions,
  startOfflineKafka,
  startPollers,
  type TriggerHooks,
  type TriggerMetric,
} from "serverless-offline-kafka-trigger";
import { config } from "../../lib/config.js";
import { deadLetterMessage } from "../../lib/consumer/dead-letters.js";
import { classifyFailure, describeFailure } from "../../lib/failures.js";
import { ensureTopics } from "../../lib/kafka/admin.js";
import { kafka } from "../../lib/kafka/client.js";
import { releaseClients } from "../../lib/lifecycle.js";
import { logger } from "../../lib/logger.js";
import { metrics, watchConsumerLag } from "../../lib/metrics.js";

/**
 * What txlog hands the trigger package (serverless-offline-kafka-trigger) through its public hooks: its Kafka
 * client, its database-outage policy, its metrics and logs, its topics and its dead-letter format. The same
 * for `serverless offline start` (plugin.cjs) and `npm run worker`.
 */

/**
 * txlog's outage policy: a failure the consume function met in the database or the broker (lib/failures.ts:
 * by SQLSTATE class and error type) or a function timeout is an outage, so the batch is held and retried
 * until stored, never counted or dead-lettered; only a record's content makes poison, and the consume
 * function dead-letters that itself.
 */
export const txlogOutagePolicy = {
  isOutage: (error: unknown) => error instanceof FunctionTimeoutError || classifyFailure(error) === "outage",
  describeError: describeFailure,
} satisfies Pick<TriggerHooks, "isOutage" | "describeError">;

/**
 * The trigger's on-failure records as txlog's dead letters (lib/consumer/dead-letters.ts, one builder for
 * both paths): the original key, value and headers plus the reason in headers, which `npm run dead-letters`
 * imports into the dead_letters table.
 */
export const txlogFailedRecord: FailedRecordFormatter = (topic, partition, record, { functionKey, error }) =>
  deadLetterMessage({
    topic,
    partition,
    offset: record.offset,
    timestamp: record.timestamp,
    key: record.key,
    value: record.value,
    headers: record.headers,
    reason: failureReason(error),
    detail: failureDetail(error),
    extra: { "dead-letter-function": functionKey },
  });

/** The trigger's metrics (AWS's names) into this process's registry, beside the consume function's. */
export function recordTriggerMetric({ name, value, dimensions }: TriggerMetric): void {
  const registry = metrics();
  if (name === "OffsetLag") {
    const labels = { function: dimensions.functionName, topic: dimensions.topic, partition: String(dimensions.partition) };
    registry.triggerOffsetLag.set(labels, value);
    return;
  }
  registry.triggerEvents.inc({ function: dimensions.functionName, metric: name, reason: dimensions.reason ?? "" }, value);
  // Records the destination took count as dead letters too (txlog_dead_letters_total, by reason).
  if (name === "OnFailureDestinationDeliveredEventCount" && dimensions.reason)
    registry.deadLetters.inc({ reason: dimensions.reason }, value);
}

/** txlog's client, logs, metrics, topics and dead-letter format; not the outage policy (tests of AWS's own verdicts leave it out). */
export function txlogClient(): TriggerHooks {
  return {
    kafka,
    bootstrapServers: config.KAFKA_BROKERS,
    logger,
    onMetric: recordTriggerMetric,
    formatFailedRecord: txlogFailedRecord,
    ensureTopics: async (topics) => {
      await ensureTopics(topics);
    },
  };
}

/** Every hook txlog hands the trigger, its outage policy included. */
export function txlogHooks(): TriggerHooks {
  return { ...txlogClient(), ...txlogOutagePolicy };
}

/** After each poller started: its group's lag in every scrape; on stop, this process's clients released. */
function asTxlogRunning(running: RunningPollers): RunningPollers {
  for (const { definition } of running.pollers) watchConsumerLag(definition.topic, definition.consumerGroupId);
  let stopping: Promise<void> | undefined;
  return {
    pollers: running.pollers,
    stop() {
      stopping ??= running.stop().then(releaseClients);
      return stopping;
    },
  };
}

/** The worker's pollers (scripts/worker.ts) with txlog's hooks. */
export async function startTxlogPollers(options: Omit<StartPollersOptions, keyof TriggerHooks>): Promise<RunningPollers> {
  return asTxlogRunning(await startPollers({ ...txlogHooks(), ...options }));
}

/**
 * `serverless offline start` (plugin.cjs): every msk/kafka event of serverless.yml, unless custom.offlineKafka's
 * `enabled` is false (serverless.yml sets it from OFFLINE_KAFKA_ENABLED).
 */
export async function startTxlogOffline(service: ServerlessService, servicePath: string): Promise<RunningPollers | undefined> {
  const running = await startOfflineKafka(service, servicePath, txlogHooks());
  return running && asTxlogRunning(running);
}
