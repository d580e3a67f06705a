// The local Kafka trigger (serverless.yml loads plugin.cjs, which imports this): re-exports only.
export { Batcher, type BatcherOptions, type BatchPart } from "./batcher.js";
export { databaseAnswers } from "./database-probe.js";
export {
  collectKafkaEventDefinitions,
  definitionFromOptions,
  type KafkaEventDefinition,
  KafkaEventDefinitionError,
  type KafkaTriggerOptions,
  parseKafkaEventDefinition,
  type StartingPosition,
} from "./event-definition.js";
export { HandlerNotFoundError, loadHandler, splitHandler } from "./handler-loader.js";
export { KafkaPoller } from "./poller.js";
export type { BatchInvoker, PollerDefinition, PollerOptions, PollerStats } from "./poller-options.js";
export {
  pauseWhileDatabaseDown,
  type RunningPollers,
  type StartPollersOptions,
  startOfflineKafka,
  startPollers,
} from "./pollers.js";
export { backoffDelay, pauseWhileDown, type RetryContext, type RetryOptions, type WaitBeforeRetry } from "./retry.js";
