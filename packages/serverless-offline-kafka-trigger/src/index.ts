// The public API of serverless-offline-kafka-trigger. Importing it patches nothing and starts nothing.
export { Batcher, type BatcherOptions, type BatchPart } from "./batcher.js";
export { buildMskEvent, buildSelfManagedKafkaEvent, type KafkaEventRecord, type PartitionRecords } from "./event.js";
export {
  collectKafkaEventDefinitions,
  ERROR_HANDLING_OPTIONS,
  type KafkaEventDefinition,
  KafkaEventDefinitionError,
  KNOWN_OPTIONS,
  MAX_RETRY_ATTEMPTS,
  parseKafkaEventDefinition,
  type StartingPosition,
} from "./event-definition.js";
export { METRIC_GROUPS, type MetricGroup, SYSTEM_LOG_LEVELS, type SystemLogLevel } from "./event-options.js";
export {
  BatchItemFailuresError,
  bisect,
  DEFAULT_FAILURE_SETTINGS,
  effectiveRetryAttempts,
  type FailureSettings,
  type FailureSteps,
  type FailureVerdict,
  failedItems,
  MalformedBatchItemFailuresError,
  RETRIES_WITH_DESTINATION,
  RecordAgeExceededError,
  settleBatch,
} from "./failure-handling.js";
export { type CompiledPattern, compileFilterPattern, FilterPatternError, matchesAny } from "./filter-criteria.js";
export { HandlerNotFoundError, loadHandler, splitHandler } from "./handler-loader.js";
export { applyKafkaJsFixes, fixKafkaJsRunnerStop } from "./kafkajs-fixes.js";
export { createJsonLogger, type LogLevel, type TriggerLogger } from "./logger.js";
export {
  METRIC_KINDS,
  METRIC_NAMES,
  type MetricDimensions,
  type MetricHook,
  type MetricName,
  type TriggerMetric,
} from "./metrics.js";
export { OnFailureDestination, type OnFailureDestinationOptions } from "./on-failure-destination.js";
export {
  awsFailureRecord,
  type FailedRecordFormatter,
  type FailureContext,
  type FailureRecordDocument,
  failureDetail,
  failureReason,
} from "./on-failure-record.js";
export { DEFAULT_MAX_CONCURRENT_INVOCATIONS, KafkaPoller } from "./poller.js";
export {
  type BatchInvoker,
  DEFAULTS,
  type PollerDefinition,
  type PollerOptions,
  type PollerStats,
  type TriggerHooks,
} from "./poller-options.js";
export { type RunningPollers, type StartPollersOptions, startPollers } from "./pollers.js";
export { backoffDelay, errorMessages, type RetryContext, type RetryOptions, type WaitBeforeRetry } from "./retry.js";
export {
  functionTimeouts,
  type PluginSettings,
  pluginSettings,
  type ServerlessService,
  startOfflineKafka,
} from "./serverless.js";
export { FunctionTimeoutError } from "./timeout.js";
export { type EnsureTopics, ensureTopicsExist } from "./topics.js";
export { definitionFromOptions, type KafkaTriggerOptions } from "./worker-options.js";
