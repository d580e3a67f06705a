import type { MSKEvent } from "aws-lambda";
import type { Kafka } from "kafkajs";
import type { KafkaEventDefinition } from "./event-definition.js";
import type { FailureSettings } from "./failure-handling.js";
import type { RetryOptions, WaitBeforeRetry } from "./retry.js";

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
  Partial<Pick<KafkaEventDefinition, "eventType" | "eventSourceArn" | "startingPositionTimestamp" | "filters">> &
  Partial<FailureSettings>;

export interface PollerOptions {
  definition: PollerDefinition;
  invoke: BatchInvoker;
  /** Defaults to the app's one Kafka client (config.KAFKA_BROKERS); fault tests pass a client of their own broker. */
  kafka?: Kafka;
  /** The event's bootstrapServers; defaults to config.KAFKA_BROKERS. */
  bootstrapServers?: string[];
  retry?: Partial<RetryOptions>;
  /** How to wait before a failed batch (not an outage) is invoked again. Default: sleep the backoff delay. */
  waitBeforeRetry?: WaitBeforeRetry;
  /**
   * Whether a failure is an outage of something the function depends on (its database down, locked or
   * timing out) rather than the records' fault. An outage's attempts count toward no retry limit and never
   * bisect or reach the on-failure destination: the batch is held, its partitions paused, and retried with
   * capped backoff until it goes through. Default: no failure is an outage (as on AWS, where every function
   * error counts).
   */
  isOutage?: (error: unknown) => boolean;
  /** A failure as logs may show it (no record contents). Default: the error's messages, cause by cause. */
  describeError?: (error: unknown) => string;
  /** The longest wait between two attempts of a batch held by an outage. Default 5 s. */
  outageMaxDelayMs?: number;
  /** The function's timeout (serverless.yml `timeout`): an invocation running longer counts as failed. Default 60 s. */
  functionTimeoutMs?: number;
  /** kafkajs eachBatch calls handled at once: at least the topic's partition count, so one event can mix partitions. */
  partitionsConsumedConcurrently?: number;
  /**
   * Invocations in flight at once, each on partitions no other one holds (Lambda: one invocation per
   * partition at a time). Default 5, a provisioned-mode poller's concurrent invocations.
   */
  maxConcurrentInvocations?: number;
  /**
   * The group's session timeout (kafkajs default 30 s): how long a member that stopped heart-beating (a
   * crashed worker) keeps its partitions. The broker's minimum is 6 s (group.min.session.timeout.ms).
   */
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
