import type { MSKEvent } from "aws-lambda";
import type { Kafka } from "kafkajs";
import type { KafkaEventDefinition } from "./event-definition.js";
import type { FailureSettings } from "./failure-handling.js";
import type { RetryOptions, WaitBeforeRetry } from "./retry.js";

/** Invokes the function with one MSK event; a rejection means "retry this batch". */
export type BatchInvoker = (event: MSKEvent) => Promise<unknown>;

/** The error-handling settings are optional here: without them, Lambda's defaults (retry forever, no bisecting, no destination). */
export type PollerDefinition = Pick<
  KafkaEventDefinition,
  "functionKey" | "topic" | "batchSize" | "maximumBatchingWindowMs" | "startingPosition" | "consumerGroupId" | "eventSourceArn"
> &
  Partial<FailureSettings>;

export interface PollerOptions {
  definition: PollerDefinition;
  invoke: BatchInvoker;
  /** Defaults to the app's one Kafka client (config.KAFKA_BROKERS); fault tests pass a client of their own broker. */
  kafka?: Kafka;
  /** The event's bootstrapServers; defaults to config.KAFKA_BROKERS. */
  bootstrapServers?: string[];
  retry?: Partial<RetryOptions>;
  /**
   * How to wait before the failed batch is invoked again. Default: sleep the backoff delay. The place for
   * "pause the partitions and resume once the database answers" (issue 6, retry.ts pauseWhileDown).
   */
  waitBeforeRetry?: WaitBeforeRetry;
  /** The function's timeout (serverless.yml `timeout`): an invocation running longer counts as failed. Default 60 s. */
  functionTimeoutMs?: number;
  /** kafkajs eachBatch calls handled at once: at least the topic's partition count, so one event can mix partitions. */
  partitionsConsumedConcurrently?: number;
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
  /** Records given up on: sent to the on-failure destination, or discarded without one. */
  sentOnFailure: number;
  discarded: number;
}
