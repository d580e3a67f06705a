// The local Kafka trigger (serverless.yml loads plugin.cjs, which imports this): re-exports only.
export { Batcher, type BatcherOptions, type BatchPart } from "./batcher.js";
export {
  collectKafkaEventDefinitions,
  definitionFromOptions,
  type KafkaEventDefinition,
  KafkaEventDefinitionError,
  type KafkaTriggerOptions,
  KNOWN_OPTIONS,
  MAX_RETRY_ATTEMPTS,
  parseKafkaEventDefinition,
  type StartingPosition,
} from "./event-definition.js";
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
export { failedRecordMessage, OnFailureDestination } from "./on-failure-destination.js";
export { OutageLog } from "./outage.js";
export { DEFAULT_MAX_CONCURRENT_INVOCATIONS, KafkaPoller } from "./poller.js";
export type { BatchInvoker, PollerDefinition, PollerOptions, PollerStats } from "./poller-options.js";
export {
  type RunningPollers,
  type StartPollersOptions,
  startOfflineKafka,
  startPollers,
  txlogOutagePolicy,
} from "./pollers.js";
export { backoffDelay, type RetryContext, type RetryOptions, type WaitBeforeRetry } from "./retry.js";
