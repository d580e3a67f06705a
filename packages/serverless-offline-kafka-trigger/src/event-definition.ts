import {
  arnString,
  booleanOf,
  checkPollerConfig,
  fail,
  filtersOf,
  integerIn,
  MAX_RECORD_AGE_SECONDS,
  type MetricGroup,
  MIN_RECORD_AGE_SECONDS,
  metricsOf,
  numberIn,
  onFailureTopic,
  responseTypesOf,
  type SystemLogLevel,
  startingPositionOf,
  systemLogLevelOf,
} from "./event-options.js";
import type { CompiledPattern } from "./filter-criteria.js";

export { KafkaEventDefinitionError } from "./event-options.js";

/**
 * serverless.yml `msk` and `kafka` events (or the standalone worker's flags) -> what the local poller
 * needs. Pure: unit-tested without a broker. Options carry the names of Lambda's event source mapping
 * (CloudFormation's with a lower-case first letter; serverless.yml's `filterPatterns` for FilterCriteria), and
 * its defaults (https://docs.aws.amazon.com/lambda/latest/dg/with-msk.html, msk-esm-parameters): batchSize 100,
 * a 0.5 s batching window, TRIM_HORIZON (osls's default for both event types), infinite retries and record age,
 * no bisecting, no partial batch responses, no on-failure destination. An option the trigger does not know is
 * an error naming it, never silently ignored.
 */
export type StartingPosition = "TRIM_HORIZON" | "LATEST" | "AT_TIMESTAMP";

export interface KafkaEventDefinition {
  functionKey: string;
  /** serverless.yml's handler string, e.g. "handlers/consume.handler". */
  handler: string;
  /** msk: Amazon MSK (eventSource "aws:kafka", with the cluster ARN); kafka: self-managed ("SelfManagedKafka", no ARN). */
  eventType: "msk" | "kafka";
  topic: string;
  batchSize: number;
  maximumBatchingWindowMs: number;
  startingPosition: StartingPosition;
  /** AT_TIMESTAMP only: Unix time in seconds (StartingPositionTimestamp). */
  startingPositionTimestamp?: number | undefined;
  enabled: boolean;
  consumerGroupId: string;
  /** The MSK cluster ARN (a placeholder when serverless.yml gives an intrinsic); undefined for self-managed Kafka. */
  eventSourceArn: string | undefined;
  /** Retries of a failing batch (of the record alone, when bisecting) before it is given up on; -1 = forever. */
  maximumRetryAttempts: number;
  /** Split a failing batch in two and retry each half, until the failing record is alone. */
  bisectBatchOnFunctionError: boolean;
  /** The topic of the on-failure destination `kafka://<topic>`; undefined: records given up on are discarded. */
  onFailureTopic: string | undefined;
  /** Records older than this (by their timestamp) go to the on-failure destination instead of the function; -1 = no limit. */
  maximumRecordAgeInSeconds: number;
  /** functionResponseTypes: ["ReportBatchItemFailures"]: the function may name the records that failed. */
  reportBatchItemFailures: boolean;
  /** filterPatterns as written (for logs) and compiled; none: every record is delivered. */
  filterPatterns: unknown[];
  filters: CompiledPattern[];
  /** metricsConfig's groups: which metrics the onMetric hook receives besides OffsetLag (none: OffsetLag only, as on AWS). */
  metrics: MetricGroup[];
  /** loggingConfig.systemLogLevel: the least severe of this event's poller logs that are written (default: all the logger takes). */
  systemLogLevel: SystemLogLevel | undefined;
}

export const DEFAULT_BATCH_SIZE = 100;
export const MAX_BATCH_SIZE = 10_000;
export const DEFAULT_BATCHING_WINDOW_SECONDS = 0.5;
export const MAX_BATCHING_WINDOW_SECONDS = 300;
export const MAX_RETRY_ATTEMPTS = 10_000;
const LOCAL_ARN_PREFIX = "arn:aws:kafka:local:000000000000:cluster/offline-kafka";

/** The error-handling options (AWS names) osls's msk/kafka schemas lack; a plugin of the service may add them for deploys. */
export const ERROR_HANDLING_OPTIONS = [
  "maximumRetryAttempts",
  "bisectBatchOnFunctionError",
  "maximumRecordAgeInSeconds",
  "functionResponseTypes",
  "destinationConfig",
] as const;

/**
 * Every option an event may carry, as osls's schema (plus ERROR_HANDLING_OPTIONS and the options AWS added
 * since 2024) has them. Those marked "AWS only" configure how AWS reaches, scales or encrypts; locally they
 * are checked and not used (one poller per event, on the client the host gives).
 */
const COMMON_OPTIONS = [
  "topic",
  "batchSize",
  "maximumBatchingWindow",
  "enabled",
  "startingPosition",
  "startingPositionTimestamp",
  "consumerGroupId",
  "filterPatterns",
  "provisionedPollerConfig", // AWS only: provisioned mode's pollers and poller group
  "metricsConfig", // which metric groups the onMetric hook receives
  "loggingConfig", // systemLogLevel of this event's poller logs
  "kmsKeyArn", // AWS only: encrypts the filter criteria
  "tags", // AWS only
  "onFailureDestination", // osls's spelling of destinationConfig.onFailure.destination
  ...ERROR_HANDLING_OPTIONS,
];
export const KNOWN_OPTIONS = {
  msk: ["arn", "saslScram512", ...COMMON_OPTIONS], // AWS only: saslScram512
  kafka: ["bootstrapServers", "accessConfigurations", ...COMMON_OPTIONS], // AWS only: both
} as const;

/** One event's options (serverless.yml's names; numbers may be strings) -> a checked definition. */
export function normalise(
  where: string,
  functionKey: string,
  handler: string,
  eventType: KafkaEventDefinition["eventType"],
  spec: Record<string, unknown>,
  defaultGroupId: string,
): KafkaEventDefinition {
  if (spec.schemaRegistryConfig !== undefined)
    fail(where, "schemaRegistryConfig is not emulated: the trigger delivers the records' bytes as they are (base64)");
  const known: readonly string[] = KNOWN_OPTIONS[eventType];
  const unknown = Object.keys(spec).filter((key) => spec[key] !== undefined && !known.includes(key));
  if (unknown.length)
    fail(
      where,
      `unknown or unsupported option${unknown.length > 1 ? "s" : ""} ${unknown.map((key) => `"${key}"`).join(", ")} (known: ${known.join(", ")})`,
    );
  if (typeof spec.topic !== "string" || spec.topic.trim() === "") fail(where, "topic is required");
  const batchSize = integerIn(where, "batchSize", spec.batchSize, DEFAULT_BATCH_SIZE, 1, MAX_BATCH_SIZE);
  const windowSeconds = numberIn(
    where,
    "maximumBatchingWindow",
    spec.maximumBatchingWindow,
    DEFAULT_BATCHING_WINDOW_SECONDS,
    0,
    MAX_BATCHING_WINDOW_SECONDS,
  );
  const enabled = spec.enabled ?? true;
  if (typeof enabled !== "boolean" && enabled !== "true" && enabled !== "false") {
    fail(where, `enabled must be a boolean (got ${JSON.stringify(enabled)})`);
  }
  const consumerGroupId = spec.consumerGroupId ?? defaultGroupId;
  if (typeof consumerGroupId !== "string" || consumerGroupId.trim() === "")
    fail(where, "consumerGroupId must be a non-empty string");
  const maximumRetryAttempts = integerIn(where, "maximumRetryAttempts", spec.maximumRetryAttempts, -1, -1, MAX_RETRY_ATTEMPTS);
  const maximumRecordAgeInSeconds = integerIn(
    where,
    "maximumRecordAgeInSeconds",
    spec.maximumRecordAgeInSeconds,
    -1,
    -1,
    MAX_RECORD_AGE_SECONDS,
  );
  if (maximumRecordAgeInSeconds !== -1 && maximumRecordAgeInSeconds < MIN_RECORD_AGE_SECONDS)
    fail(
      where,
      `maximumRecordAgeInSeconds must be -1 or ${MIN_RECORD_AGE_SECONDS} to ${MAX_RECORD_AGE_SECONDS} (got ${maximumRecordAgeInSeconds})`,
    );
  checkPollerConfig(where, spec.provisionedPollerConfig);

  return {
    functionKey,
    handler,
    eventType,
    topic: spec.topic,
    batchSize,
    maximumBatchingWindowMs: Math.round(windowSeconds * 1000),
    ...startingPositionOf(where, spec),
    enabled: enabled === true || enabled === "true",
    consumerGroupId,
    eventSourceArn: eventType === "msk" ? (arnString(spec.arn) ?? `${LOCAL_ARN_PREFIX}/${functionKey}`) : undefined,
    maximumRetryAttempts,
    bisectBatchOnFunctionError: booleanOf(where, "bisectBatchOnFunctionError", spec.bisectBatchOnFunctionError, false),
    onFailureTopic: onFailureTopic(where, spec, spec.topic),
    maximumRecordAgeInSeconds,
    reportBatchItemFailures: responseTypesOf(where, spec.functionResponseTypes),
    ...filtersOf(where, spec.filterPatterns),
    metrics: metricsOf(where, spec.metricsConfig),
    systemLogLevel: systemLogLevelOf(where, spec.loggingConfig),
  };
}

/**
 * One `msk` or `kafka` event of one function; returns undefined for other event types.
 * `defaultGroupId` is used when the event names no consumerGroupId (Lambda would use the mapping's UUID).
 */
export function parseKafkaEventDefinition(
  functionKey: string,
  handler: string,
  event: unknown,
  defaultGroupId: string,
): KafkaEventDefinition | undefined {
  if (!event || typeof event !== "object") return undefined;
  const eventType = "msk" in event ? "msk" : "kafka" in event ? "kafka" : undefined;
  if (!eventType) return undefined;
  const where = `function "${functionKey}", ${eventType} event`;
  const raw = (event as Record<string, unknown>)[eventType];
  if (!raw || typeof raw !== "object") fail(where, "expected an object");
  return normalise(where, functionKey, handler, eventType, raw as Record<string, unknown>, defaultGroupId);
}

interface FunctionDefinition {
  handler?: unknown;
  events?: unknown[];
}

/**
 * Every msk/kafka event of every function in serverless.yml's `functions` (as Serverless resolved it).
 * Without a consumerGroupId an event gets "<service>-<function>" (plus "-<n>" for a function's second
 * event), so two functions reading one topic never split its partitions between them.
 */
export function collectKafkaEventDefinitions(serviceName: string, functions: unknown): KafkaEventDefinition[] {
  const byKey = (functions && typeof functions === "object" ? functions : {}) as Record<string, FunctionDefinition>;
  const definitions: KafkaEventDefinition[] = [];
  for (const [functionKey, value] of Object.entries(byKey)) {
    if (!value || !Array.isArray(value.events)) continue;
    let index = 0;
    for (const event of value.events) {
      const isKafka = event && typeof event === "object" && ("msk" in event || "kafka" in event);
      if (!isKafka) continue;
      if (typeof value.handler !== "string") fail(`function "${functionKey}"`, "handler is required");
      const defaultGroupId = index === 0 ? `${serviceName}-${functionKey}` : `${serviceName}-${functionKey}-${index}`;
      const definition = parseKafkaEventDefinition(functionKey, value.handler, event, defaultGroupId);
      if (definition) definitions.push(definition);
      index += 1;
    }
  }
  return definitions;
}
