/**
 * serverless.yml `msk` and `kafka` events (or the standalone worker's flags) -> what the local poller
 * needs. Pure: unit-tested without a broker. Defaults follow Lambda's event source mapping for Kafka
 * (https://docs.aws.amazon.com/lambda/latest/dg/with-msk.html): batchSize 100, a 0.5 s batching
 * window, TRIM_HORIZON (Serverless's default for both event types).
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
}

export const DEFAULT_BATCH_SIZE = 100;
export const MAX_BATCH_SIZE = 10_000;
export const DEFAULT_BATCHING_WINDOW_SECONDS = 0.5;
export const MAX_BATCHING_WINDOW_SECONDS = 300;

export class KafkaEventDefinitionError extends Error {
  override name = "KafkaEventDefinitionError";
}

interface FunctionDefinition {
  handler?: unknown;
  events?: unknown;
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
  /** TRIM_HORIZON | LATEST, or the CLI's spelling trim-horizon | latest. */
  startingPosition?: string;
}

/**
 * A definition from CLI options (scripts/worker.ts) rather than serverless.yml: the same checks and
 * defaults, an `msk` event (what the consume function has on AWS) with the local placeholder ARN.
 */
export function definitionFromOptions({
  functionKey,
  handler,
  startingPosition,
  ...spec
}: KafkaTriggerOptions): KafkaEventDefinition {
  return normalise(
    `function "${functionKey}", options`,
    functionKey,
    handler,
    "msk",
    { ...spec, startingPosition: startingPosition?.toUpperCase().replace("-", "_") },
    spec.consumerGroupId,
  );
}

/**
 * Every msk/kafka event of every function in serverless.yml's `functions` (as Serverless resolved it).
 * Without a consumerGroupId an event gets "<service>-<function>" (plus "-<n>" for a function's second
 * event), so two functions reading one topic never split its partitions between them.
 */
export function collectKafkaEventDefinitions(serviceName: string, functions: unknown): KafkaEventDefinition[] {
  if (!functions || typeof functions !== "object") return [];
  const definitions: KafkaEventDefinition[] = [];
  for (const [functionKey, value] of Object.entries(functions as Record<string, FunctionDefinition>)) {
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
