import { type CompiledPattern, compileFilterPattern, FilterPatternError } from "./filter-criteria.js";

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
}

export const DEFAULT_BATCH_SIZE = 100;
export const MAX_BATCH_SIZE = 10_000;
export const DEFAULT_BATCHING_WINDOW_SECONDS = 0.5;
export const MAX_BATCHING_WINDOW_SECONDS = 300;
export const MAX_RETRY_ATTEMPTS = 10_000;
/** MaximumRecordAgeInSeconds: -1, or 60 s to 7 days. */
export const MIN_RECORD_AGE_SECONDS = 60;
export const MAX_RECORD_AGE_SECONDS = 604_800;
/** Lambda's quota of filters per event source mapping (5 by default, 10 at most). */
export const MAX_FILTERS = 10;
/** Lambda's on-failure destinations for Kafka; only the Kafka topic one can be emulated locally. */
const KAFKA_DESTINATION_PREFIX = "kafka://";
const REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures";

/** The error-handling options (AWS names) this project adds to osls's msk/kafka schemas (plugins/kafka-event-options.cjs). */
export const ERROR_HANDLING_OPTIONS = [
  "maximumRetryAttempts",
  "bisectBatchOnFunctionError",
  "maximumRecordAgeInSeconds",
  "functionResponseTypes",
  "destinationConfig",
] as const;

/**
 * Every option an event may carry, as osls's schema (plus ERROR_HANDLING_OPTIONS) has them. Those marked
 * "AWS only" configure how AWS reaches and scales the cluster; locally they are checked and not used
 * (the trigger reads KAFKA_BROKERS over PLAINTEXT, one poller per event).
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
  "provisionedPollerConfig", // AWS only: provisioned mode's pollers
  "onFailureDestination", // osls's spelling of destinationConfig.onFailure.destination
  ...ERROR_HANDLING_OPTIONS,
];
export const KNOWN_OPTIONS = {
  msk: ["arn", "saslScram512", ...COMMON_OPTIONS], // AWS only: saslScram512
  kafka: ["bootstrapServers", "accessConfigurations", ...COMMON_OPTIONS], // AWS only: both
} as const;

export class KafkaEventDefinitionError extends Error {
  override name = "KafkaEventDefinitionError";
}

interface FunctionDefinition {
  handler?: unknown;
  events?: unknown[];
}

const LOCAL_ARN_PREFIX = "arn:aws:kafka:local:000000000000:cluster/offline-kafka";

function fail(where: string, message: string): never {
  throw new KafkaEventDefinitionError(`${where}: ${message}`);
}

function numberIn(where: string, name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined || value === null) return fallback;
  const parsed = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof parsed !== "number" || !Number.isFinite(parsed) || parsed < min || parsed > max) {
    fail(where, `${name} must be a number from ${min} to ${max} (got ${JSON.stringify(value)})`);
  }
  return parsed;
}

function integerIn(where: string, name: string, value: unknown, fallback: number, min: number, max: number): number {
  const parsed = numberIn(where, name, value, fallback, min, max);
  if (!Number.isInteger(parsed)) fail(where, `${name} must be an integer (got ${parsed})`);
  return parsed;
}

function booleanOf(where: string, name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined || value === null) return fallback;
  if (value === true || value === "true") return true;
  if (value === false || value === "false") return false;
  fail(where, `${name} must be a boolean (got ${JSON.stringify(value)})`);
}

/**
 * The on-failure destination's topic: AWS's `destinationConfig: { onFailure: { destination } }` or osls's
 * `onFailureDestination`, either `kafka://<topic>`. Lambda refuses the source topic (a record would loop).
 */
function onFailureTopic(where: string, spec: Record<string, unknown>, sourceTopic: string): string | undefined {
  const config = spec.destinationConfig as { onFailure?: { destination?: unknown } } | undefined;
  if (config !== undefined && (typeof config !== "object" || config === null || typeof config.onFailure !== "object"))
    fail(where, "destinationConfig must be { onFailure: { destination: kafka://<topic> } }");
  const nested = config?.onFailure?.destination;
  if (nested !== undefined && spec.onFailureDestination !== undefined)
    fail(where, "give the destination once: destinationConfig.onFailure.destination or onFailureDestination");
  const destination = nested ?? spec.onFailureDestination;
  if (destination === undefined || destination === null) return undefined;
  if (typeof destination !== "string" || !destination.startsWith(KAFKA_DESTINATION_PREFIX))
    fail(where, `only a kafka://<topic> on-failure destination is emulated locally (got ${JSON.stringify(destination)})`);
  const topic = destination.slice(KAFKA_DESTINATION_PREFIX.length).trim();
  if (topic === "") fail(where, "the on-failure destination names no topic (kafka://<topic>)");
  if (topic === sourceTopic) fail(where, `the on-failure destination must not be the source topic "${sourceTopic}"`);
  return topic;
}

function arnString(value: unknown): string | undefined {
  // `arn` may be a CloudFormation intrinsic ({ Ref }, { Fn::ImportValue }) that has no value offline.
  return typeof value === "string" && value.startsWith("arn:") ? value : undefined;
}

function startingPositionOf(
  where: string,
  spec: Record<string, unknown>,
): Pick<KafkaEventDefinition, "startingPosition" | "startingPositionTimestamp"> {
  const startingPosition = spec.startingPosition ?? "TRIM_HORIZON";
  if (startingPosition !== "TRIM_HORIZON" && startingPosition !== "LATEST" && startingPosition !== "AT_TIMESTAMP") {
    fail(where, `startingPosition must be TRIM_HORIZON, LATEST or AT_TIMESTAMP (got ${JSON.stringify(startingPosition)})`);
  }
  const timestamp = spec.startingPositionTimestamp;
  if (startingPosition !== "AT_TIMESTAMP") {
    if (timestamp !== undefined && timestamp !== null)
      fail(where, "startingPositionTimestamp is only valid with startingPosition AT_TIMESTAMP");
    return { startingPosition };
  }
  if (timestamp === undefined || timestamp === null)
    fail(where, "startingPosition AT_TIMESTAMP needs startingPositionTimestamp (Unix time in seconds)");
  // Seconds, as CloudFormation's StartingPositionTimestamp; a value in milliseconds is a mistake worth naming.
  const seconds = numberIn(where, "startingPositionTimestamp", timestamp, 0, 0, 1e11);
  return { startingPosition, startingPositionTimestamp: seconds };
}

function responseTypesOf(where: string, value: unknown): boolean {
  if (value === undefined || value === null) return false;
  if (!Array.isArray(value) || value.some((type) => type !== REPORT_BATCH_ITEM_FAILURES))
    fail(where, `functionResponseTypes must be a list of "${REPORT_BATCH_ITEM_FAILURES}" (got ${JSON.stringify(value)})`);
  return value.length > 0;
}

function filtersOf(where: string, value: unknown): { filterPatterns: unknown[]; filters: CompiledPattern[] } {
  if (value === undefined || value === null) return { filterPatterns: [], filters: [] };
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_FILTERS)
    fail(where, `filterPatterns must be a list of 1 to ${MAX_FILTERS} patterns (got ${JSON.stringify(value)})`);
  try {
    return {
      filterPatterns: value,
      filters: value.map((pattern, index) => compileFilterPattern(`filterPatterns[${index}]`, pattern)),
    };
  } catch (error) {
    if (error instanceof FilterPatternError) fail(where, error.message);
    throw error;
  }
}

/** provisionedPollerConfig (AWS only): checked as Lambda would; locally one poller runs per event. */
function checkPollerConfig(where: string, value: unknown): void {
  if (value === undefined || value === null) return;
  if (typeof value !== "object" || Array.isArray(value))
    fail(where, "provisionedPollerConfig must be { minimumPollers, maximumPollers }");
  const config = value as Record<string, unknown>;
  const unknown = Object.keys(config).filter((key) => key !== "minimumPollers" && key !== "maximumPollers");
  if (unknown.length)
    fail(where, `provisionedPollerConfig: unknown option ${unknown.join(", ")} (known: minimumPollers, maximumPollers)`);
  const min = integerIn(where, "provisionedPollerConfig.minimumPollers", config.minimumPollers, 1, 1, 200);
  const max = integerIn(where, "provisionedPollerConfig.maximumPollers", config.maximumPollers, 200, 1, 2000);
  if (min > max) fail(where, `provisionedPollerConfig.minimumPollers (${min}) exceeds maximumPollers (${max})`);
}

/** One event's options (serverless.yml's names; numbers may be strings) -> a checked definition. */
function normalise(
  where: string,
  functionKey: string,
  handler: string,
  eventType: KafkaEventDefinition["eventType"],
  spec: Record<string, unknown>,
  defaultGroupId: string,
): KafkaEventDefinition {
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

/** The standalone worker's flags for one function's trigger; numbers as parseArgs gives them (strings) or numbers. */
export interface KafkaTriggerOptions {
  functionKey: string;
  /** serverless.yml's handler string, e.g. "handlers/consume.handler". */
  handler: string;
  topic: string;
  consumerGroupId: string;
  batchSize?: number | string;
  /** Seconds, as serverless.yml's maximumBatchingWindow. */
  maximumBatchingWindow?: number | string;
  /** TRIM_HORIZON | LATEST | AT_TIMESTAMP, or the CLI's spelling trim-horizon | latest | at-timestamp. */
  startingPosition?: string;
  /** AT_TIMESTAMP only: Unix time in seconds. */
  startingPositionTimestamp?: number | string;
  /** -1 (forever) or 0..10000. */
  maximumRetryAttempts?: number | string;
  bisectBatchOnFunctionError?: boolean | string;
  /** `kafka://<topic>`; "none" or "" for no destination (records given up on are discarded). */
  onFailureDestination?: string;
  /** -1 or 60..604800. */
  maximumRecordAgeInSeconds?: number | string;
  /** true: the function may answer with batchItemFailures (functionResponseTypes ReportBatchItemFailures). */
  reportBatchItemFailures?: boolean | string;
}

/**
 * A definition from CLI options (scripts/worker.ts) rather than serverless.yml: the same checks and
 * defaults, an `msk` event (what the consume function has on AWS) with the local placeholder ARN.
 */
export function definitionFromOptions({
  functionKey,
  handler,
  startingPosition,
  onFailureDestination,
  reportBatchItemFailures,
  ...spec
}: KafkaTriggerOptions): KafkaEventDefinition {
  const where = `function "${functionKey}", options`;
  const destination = onFailureDestination === "none" || onFailureDestination === "" ? undefined : onFailureDestination;
  const responseTypes = booleanOf(where, "reportBatchItemFailures", reportBatchItemFailures, false)
    ? [REPORT_BATCH_ITEM_FAILURES]
    : undefined;
  const options: Record<string, unknown> = {
    ...spec,
    startingPosition: startingPosition?.toUpperCase().replaceAll("-", "_"),
    onFailureDestination: destination,
    functionResponseTypes: responseTypes,
  };
  return normalise(where, functionKey, handler, "msk", options, spec.consumerGroupId);
}

/**
 * Every msk/kafka event of every function in serverless.yml's `functions` (as Serverless resolved it).
 * Without a consumerGroupId an event gets "<service>-<function>" (plus "-<n>" for a function's second
 * event), so two functions reading one topic never split its partitions between them. `custom` is
 * serverless.yml's custom section: custom.offlineKafka, where these settings lived before they moved onto
 * the events, is refused with a message saying where they go.
 */
export function collectKafkaEventDefinitions(
  serviceName: string,
  functions: unknown,
  custom?: { offlineKafka?: unknown },
): KafkaEventDefinition[] {
  if (custom?.offlineKafka !== undefined)
    fail(
      "custom.offlineKafka",
      "the event source mapping options now belong on each function's msk/kafka event (maximumRetryAttempts, bisectBatchOnFunctionError, destinationConfig, ...): move them there",
    );
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
