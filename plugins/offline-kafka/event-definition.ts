/**
 * serverless.yml `msk` and `kafka` events (or the standalone worker's flags) -> what the local poller
 * needs. Pure: unit-tested without a broker. Defaults follow Lambda's event source mapping for Kafka
 * (https://docs.aws.amazon.com/lambda/latest/dg/with-msk.html): batchSize 100, a 0.5 s batching
 * window, TRIM_HORIZON (Serverless's default for both event types), infinite retries, no bisecting, no
 * on-failure destination (https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html).
 */
export type StartingPosition = "TRIM_HORIZON" | "LATEST";

export interface KafkaEventDefinition {
  functionKey: string;
  /** serverless.yml's handler string, e.g. "handlers/consume.handler". */
  handler: string;
  eventType: "msk" | "kafka";
  topic: string;
  batchSize: number;
  maximumBatchingWindowMs: number;
  startingPosition: StartingPosition;
  enabled: boolean;
  consumerGroupId: string;
  /** The MSK cluster ARN (placeholder for self-managed Kafka), passed on as the event's eventSourceArn. */
  eventSourceArn: string;
  /** Retries of a failing batch (of the record alone, when bisecting) before it is given up on; -1 = forever. */
  maximumRetryAttempts: number;
  /** Split a failing batch in two and retry each half, until the failing record is alone. */
  bisectBatchOnFunctionError: boolean;
  /** The topic of the on-failure destination `kafka://<topic>`; undefined: records given up on are discarded. */
  onFailureTopic: string | undefined;
}

export const DEFAULT_BATCH_SIZE = 100;
export const MAX_BATCH_SIZE = 10_000;
export const DEFAULT_BATCHING_WINDOW_SECONDS = 0.5;
export const MAX_BATCHING_WINDOW_SECONDS = 300;
export const MAX_RETRY_ATTEMPTS = 10_000;
/** Lambda's on-failure destinations for Kafka; only the Kafka topic one can be emulated locally. */
const KAFKA_DESTINATION_PREFIX = "kafka://";
/** The error-handling settings, which serverless.yml may also give under custom.offlineKafka.<function>. */
export const FAILURE_SETTINGS = [
  "maximumRetryAttempts",
  "bisectBatchOnFunctionError",
  "destinationConfig",
  "onFailureDestination",
] as const;

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

/** One event's settings (serverless.yml's names; numbers may be strings) -> a checked definition. */
function normalise(
  where: string,
  functionKey: string,
  handler: string,
  eventType: KafkaEventDefinition["eventType"],
  spec: Record<string, unknown>,
  defaultGroupId: string,
): KafkaEventDefinition {
  if (typeof spec.topic !== "string" || spec.topic.trim() === "") fail(where, "topic is required");
  const batchSize = numberIn(where, "batchSize", spec.batchSize, DEFAULT_BATCH_SIZE, 1, MAX_BATCH_SIZE);
  if (!Number.isInteger(batchSize)) fail(where, `batchSize must be an integer (got ${batchSize})`);
  const windowSeconds = numberIn(
    where,
    "maximumBatchingWindow",
    spec.maximumBatchingWindow,
    DEFAULT_BATCHING_WINDOW_SECONDS,
    0,
    MAX_BATCHING_WINDOW_SECONDS,
  );
  const startingPosition = spec.startingPosition ?? "TRIM_HORIZON";
  if (startingPosition === "AT_TIMESTAMP") fail(where, "startingPosition AT_TIMESTAMP is not supported locally");
  if (startingPosition !== "TRIM_HORIZON" && startingPosition !== "LATEST") {
    fail(where, `startingPosition must be TRIM_HORIZON or LATEST (got ${JSON.stringify(startingPosition)})`);
  }
  const enabled = spec.enabled ?? true;
  if (typeof enabled !== "boolean" && enabled !== "true" && enabled !== "false") {
    fail(where, `enabled must be a boolean (got ${JSON.stringify(enabled)})`);
  }
  const consumerGroupId = spec.consumerGroupId ?? defaultGroupId;
  if (typeof consumerGroupId !== "string" || consumerGroupId.trim() === "")
    fail(where, "consumerGroupId must be a non-empty string");
  const maximumRetryAttempts = numberIn(where, "maximumRetryAttempts", spec.maximumRetryAttempts, -1, -1, MAX_RETRY_ATTEMPTS);
  if (!Number.isInteger(maximumRetryAttempts))
    fail(where, `maximumRetryAttempts must be an integer (got ${maximumRetryAttempts})`);

  return {
    functionKey,
    handler,
    eventType,
    topic: spec.topic,
    batchSize,
    maximumBatchingWindowMs: Math.round(windowSeconds * 1000),
    startingPosition,
    enabled: enabled === true || enabled === "true",
    consumerGroupId,
    eventSourceArn: arnString(spec.arn) ?? `${LOCAL_ARN_PREFIX}/${functionKey}`,
    maximumRetryAttempts,
    bisectBatchOnFunctionError: booleanOf(where, "bisectBatchOnFunctionError", spec.bisectBatchOnFunctionError, false),
    onFailureTopic: onFailureTopic(where, spec, spec.topic),
  };
}

/**
 * One `msk` or `kafka` event of one function; returns undefined for other event types.
 * `defaultGroupId` is used when the event names no consumerGroupId (Lambda would use the mapping's UUID).
 * `failureSettings` (custom.offlineKafka.<function>) apply where the event itself gives no value.
 */
export function parseKafkaEventDefinition(
  functionKey: string,
  handler: string,
  event: unknown,
  defaultGroupId: string,
  failureSettings: Record<string, unknown> = {},
): KafkaEventDefinition | undefined {
  if (!event || typeof event !== "object") return undefined;
  const eventType = "msk" in event ? "msk" : "kafka" in event ? "kafka" : undefined;
  if (!eventType) return undefined;
  const where = `function "${functionKey}", ${eventType} event`;
  const raw = (event as Record<string, unknown>)[eventType];
  if (!raw || typeof raw !== "object") fail(where, "expected an object");
  const spec = { ...failureSettings, ...(raw as Record<string, unknown>) };
  if ("destinationConfig" in raw || "onFailureDestination" in raw) {
    // The event's own destination replaces the custom one, whichever spelling either uses.
    for (const key of ["destinationConfig", "onFailureDestination"]) if (!(key in raw)) delete spec[key];
  }
  return normalise(where, functionKey, handler, eventType, spec, defaultGroupId);
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
  /** TRIM_HORIZON | LATEST, or the CLI's spelling trim-horizon | latest. */
  startingPosition?: string;
  /** -1 (forever) or 0..10000. */
  maximumRetryAttempts?: number | string;
  bisectBatchOnFunctionError?: boolean | string;
  /** `kafka://<topic>`; "none" or "" for no destination (records given up on are discarded). */
  onFailureDestination?: string;
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
  ...spec
}: KafkaTriggerOptions): KafkaEventDefinition {
  const destination = onFailureDestination === "none" || onFailureDestination === "" ? undefined : onFailureDestination;
  return normalise(
    `function "${functionKey}", options`,
    functionKey,
    handler,
    "msk",
    { ...spec, startingPosition: startingPosition?.toUpperCase().replace("-", "_"), onFailureDestination: destination },
    spec.consumerGroupId,
  );
}

/**
 * custom.offlineKafka: { <function>: { maximumRetryAttempts, bisectBatchOnFunctionError, destinationConfig } },
 * where serverless.yml keeps the error-handling settings Serverless 3.40's msk/kafka schema does not know.
 */
function failureSettingsByFunction(localSettings: unknown, functions: Record<string, FunctionDefinition>) {
  if (localSettings === undefined || localSettings === null) return {};
  const where = "custom.offlineKafka";
  if (typeof localSettings !== "object") fail(where, "expected an object keyed by function name");
  for (const [functionKey, settings] of Object.entries(localSettings)) {
    const hasKafkaEvent = functions[functionKey]?.events?.some?.((event: unknown) => {
      return !!event && typeof event === "object" && ("msk" in event || "kafka" in event);
    });
    if (!hasKafkaEvent) fail(`${where}.${functionKey}`, "no such function with an msk or kafka event");
    if (!settings || typeof settings !== "object") fail(`${where}.${functionKey}`, "expected an object");
    const unknown = Object.keys(settings).filter((key) => !(FAILURE_SETTINGS as readonly string[]).includes(key));
    if (unknown.length) fail(`${where}.${functionKey}`, `unknown ${unknown.join(", ")} (known: ${FAILURE_SETTINGS.join(", ")})`);
  }
  return localSettings as Record<string, Record<string, unknown>>;
}

/**
 * Every msk/kafka event of every function in serverless.yml's `functions` (as Serverless resolved it).
 * Without a consumerGroupId an event gets "<service>-<function>" (plus "-<n>" for a function's second
 * event), so two functions reading one topic never split its partitions between them. `localSettings` is
 * serverless.yml's custom.offlineKafka (error-handling settings per function).
 */
export function collectKafkaEventDefinitions(
  serviceName: string,
  functions: unknown,
  localSettings?: unknown,
): KafkaEventDefinition[] {
  const byKey = (functions && typeof functions === "object" ? functions : {}) as Record<string, FunctionDefinition>;
  const settings = failureSettingsByFunction(localSettings, byKey);
  const definitions: KafkaEventDefinition[] = [];
  for (const [functionKey, value] of Object.entries(byKey)) {
    if (!value || !Array.isArray(value.events)) continue;
    let index = 0;
    for (const event of value.events) {
      const isKafka = event && typeof event === "object" && ("msk" in event || "kafka" in event);
      if (!isKafka) continue;
      if (typeof value.handler !== "string") fail(`function "${functionKey}"`, "handler is required");
      const defaultGroupId = index === 0 ? `${serviceName}-${functionKey}` : `${serviceName}-${functionKey}-${index}`;
      const definition = parseKafkaEventDefinition(functionKey, value.handler, event, defaultGroupId, settings[functionKey]);
      if (definition) definitions.push(definition);
      index += 1;
    }
  }
  return definitions;
}
