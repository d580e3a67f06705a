import type { MSKEvent } from "aws-lambda";
import { Kafka, logLevel } from "kafkajs";
import type { KafkaEventDefinition } from "./event-definition.js";
import type { FailureSettings } from "./failure-handling.js";
import type { TriggerLogger } from "./logger.js";
import type { MetricHook } from "./metrics.js";
import type { FailedRecordFormatter } from "./on-failure-record.js";
import type { RetryOptions, WaitBeforeRetry } from "./retry.js";
import type { EnsureTopics } from "./topics.js";

/**
 * Invokes the function with one event (MSK's shape; a `kafka` event's is the same without the ARN and with
 * eventSource "SelfManagedKafka"); resolves with what the function returned, a rejection means "retry this batch".
 */
export type BatchInvoker = (event: MSKEvent) => Promise<unknown>;

/**
 * What a poller needs of an event definition. The event type (default msk), the ARN, the filters and the
 * error-handling settings are optional here: without them, Lambda's defaults (an MSK event, every record
 * delivered, retry forever, no bisecting, no record age limit, no partial responses, no destination).
 */
export type PollerDefinition = Pick<
  KafkaEventDefinition,
  "functionKey" | "topic" | "batchSize" | "maximumBatchingWindowMs" | "startingPosition" | "consumerGroupId"
> &
  Partial<
    Pick<
      KafkaEventDefinition,
      "eventType" | "eventSourceArn" | "startingPositionTimestamp" | "filters" | "systemLogLevel" | "metrics"
    >
  > &
  Partial<FailureSettings>;

/** The defaults a poller applies where its options say nothing. */
export const DEFAULTS = {
  bootstrapServers: ["localhost:9092"],
  /** The function timeout when none is given (the plugin passes serverless.yml's). */
  functionTimeoutMs: 60_000,
  /** The longest pause between two attempts of a batch held by an outage. */
  outageMaxDelayMs: 5_000,
  /** KafkaJS's default session timeout. */
  sessionTimeoutMs: 30_000,
  /** Lambda's provisioned-mode pollers run "up to 5 concurrent invocations" each (kafka-scaling-modes). */
  maxConcurrentInvocations: 5,
  partitionsConsumedConcurrently: 32,
};

/** A KafkaJS client of `brokers` (PLAINTEXT) when the host gives none; KafkaJS's own logs at ERROR only. */
export function createKafka(brokers: string[]): Kafka {
  return new Kafka({ clientId: "serverless-offline-kafka-trigger", brokers, logLevel: logLevel.ERROR });
}

/** What the host plugs in: its Kafka client, its outage policy, metrics, logging and dead-letter format. */
export interface TriggerHooks {
  /** The client every poller uses (the host's, with its SASL/TLS settings). Default: a PLAINTEXT client of bootstrapServers. */
  kafka?: Kafka;
  /** The event's bootstrapServers. Default localhost:9092. */
  bootstrapServers?: string[];
  /** Where the trigger logs (pino fits). Default: JSON lines on stderr at INFO. */
  logger?: TriggerLogger;
  /** Each metric under AWS's name (metrics.ts), e.g. to count it in Prometheus. */
  onMetric?: MetricHook;
  /**
   * Whether a failure is an outage of something the function depends on (its database down) rather than the
   * records' fault. An outage's attempts count toward no retry limit and never bisect or reach the on-failure
   * destination: the batch is held, its partitions paused, and retried with capped backoff until it goes
   * through. Default: no failure is an outage (as on AWS, where every function error counts).
   */
  isOutage?: (error: unknown) => boolean;
  /** A failure as logs may show it (no record contents). Default: the error's messages, cause by cause. */
  describeError?: (error: unknown) => string;
  /** The message each record given up on becomes on the kafka:// destination. Default: AWS's invocation record. */
  formatFailedRecord?: FailedRecordFormatter;
  /** Creates missing topics (the source topics at start, the destination on first use). Default: broker defaults. */
  ensureTopics?: EnsureTopics;
  /** Apply the KafkaJS fixes (kafkajs-fixes.ts) when a poller starts. Default true. */
  fixKafkaJs?: boolean;
}

export interface PollerOptions extends TriggerHooks {
  definition: PollerDefinition;
  invoke: BatchInvoker;
  retry?: Partial<RetryOptions>;
  /** How to wait before a failed batch (not an outage) is invoked again. Default: sleep the backoff delay. */
  waitBeforeRetry?: WaitBeforeRetry;
  /** The longest wait between two attempts of a batch held by an outage. Default 5 s. */
  outageMaxDelayMs?: number;
  /** The function's timeout (serverless.yml `timeout`): an invocation running longer counts as failed. Default 60 s. */
  functionTimeoutMs?: number;
  /** KafkaJS eachBatch calls handled at once: at least the topic's partition count, so one event can mix partitions. */
  partitionsConsumedConcurrently?: number;
  /** Invocations in flight at once, each on partitions no other one holds. Default 5. */
  maxConcurrentInvocations?: number;
  /** The group's session timeout (KafkaJS default 30 s; the broker's minimum is 6 s): how long a crashed member keeps its partitions. */
  sessionTimeoutMs?: number;
}

export interface PollerStats {
  /** Successful invocations and the records they held. */
  batches: number;
  records: number;
  failedAttempts: number;
  /** Failed invocations that ran past the function timeout (also counted in failedAttempts). */
  timeouts: number;
  /** Failed batches split in two (bisectBatchOnFunctionError). */
  bisections: number;
  /** Records that matched no filter pattern: committed, never delivered. */
  filteredOut: number;
  /** Records past maximumRecordAgeInSeconds (also counted in sentOnFailure or discarded). */
  expired: number;
  /** Invocations answered with batchItemFailures naming some records (ReportBatchItemFailures). */
  partialFailures: number;
  /** Failed invocations the isOutage hook blamed on an outage (also counted in failedAttempts): never counted as retries. */
  outageAttempts: number;
  /** Records given up on: sent to the on-failure destination, or discarded without one. */
  sentOnFailure: number;
  discarded: number;
}

export function emptyStats(): PollerStats {
  return {
    ...{ batches: 0, records: 0, failedAttempts: 0, timeouts: 0, bisections: 0, filteredOut: 0 },
    ...{ expired: 0, partialFailures: 0, outageAttempts: 0, sentOnFailure: 0, discarded: 0 },
  };
}
