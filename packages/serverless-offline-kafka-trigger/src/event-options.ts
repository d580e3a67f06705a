import type { KafkaEventDefinition } from "./event-definition.js";
import { type CompiledPattern, compileFilterPattern, FilterPatternError } from "./filter-criteria.js";

/**
 * The checks of one event source mapping option each: a value Lambda would refuse is an error naming the
 * event and the option, before anything polls.
 */

const KAFKA_DESTINATION_PREFIX = "kafka://";
export const REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures";
/** MaximumRecordAgeInSeconds: -1, or 60 s to 7 days. */
export const MIN_RECORD_AGE_SECONDS = 60;
export const MAX_RECORD_AGE_SECONDS = 604_800;
/** Lambda's quota of filters per event source mapping (5 by default, 10 at most). */
export const MAX_FILTERS = 10;

export class KafkaEventDefinitionError extends Error {
  override name = "KafkaEventDefinitionError";
}

export function fail(where: string, message: string): never {
  throw new KafkaEventDefinitionError(`${where}: ${message}`);
}

export function numberIn(where: string, name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined || value === null) return fallback;
  const parsed = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof parsed !== "number" || !Number.isFinite(parsed) || parsed < min || parsed > max) {
    fail(where, `${name} must be a number from ${min} to ${max} (got ${JSON.stringify(value)})`);
  }
  return parsed;
}

export function integerIn(where: string, name: string, value: unknown, fallback: number, min: number, max: number): number {
  const parsed = numberIn(where, name, value, fallback, min, max);
  if (!Number.isInteger(parsed)) fail(where, `${name} must be an integer (got ${parsed})`);
  return parsed;
}

export function booleanOf(where: string, name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined || value === null) return fallback;
  if (value === true || value === "true") return true;
  if (value === false || value === "false") return false;
  fail(where, `${name} must be a boolean (got ${JSON.stringify(value)})`);
}

/**
 * The on-failure destination's topic: AWS's `destinationConfig: { onFailure: { destination } }` or osls's
 * `onFailureDestination`, either `kafka://<topic>`. Lambda refuses the source topic (a record would loop).
 */
export function onFailureTopic(where: string, spec: Record<string, unknown>, sourceTopic: string): string | undefined {
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

export function arnString(value: unknown): string | undefined {
  // `arn` may be a CloudFormation intrinsic ({ Ref }, { Fn::ImportValue }) that has no value offline.
  return typeof value === "string" && value.startsWith("arn:") ? value : undefined;
}

export function startingPositionOf(
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

export function responseTypesOf(where: string, value: unknown): boolean {
  if (value === undefined || value === null) return false;
  if (!Array.isArray(value) || value.some((type) => type !== REPORT_BATCH_ITEM_FAILURES))
    fail(where, `functionResponseTypes must be a list of "${REPORT_BATCH_ITEM_FAILURES}" (got ${JSON.stringify(value)})`);
  return value.length > 0;
}

export function filtersOf(where: string, value: unknown): { filterPatterns: unknown[]; filters: CompiledPattern[] } {
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

/** provisionedPollerConfig: checked as Lambda would; locally one poller runs per event, so it changes nothing. */
export function checkPollerConfig(where: string, value: unknown): void {
  if (value === undefined || value === null) return;
  if (typeof value !== "object" || Array.isArray(value))
    fail(where, "provisionedPollerConfig must be { minimumPollers, maximumPollers, pollerGroupName }");
  const config = value as Record<string, unknown>;
  const known = ["minimumPollers", "maximumPollers", "pollerGroupName"];
  const unknown = Object.keys(config).filter((key) => !known.includes(key));
  if (unknown.length) fail(where, `provisionedPollerConfig: unknown option ${unknown.join(", ")} (known: ${known.join(", ")})`);
  const min = integerIn(where, "provisionedPollerConfig.minimumPollers", config.minimumPollers, 1, 1, 200);
  const max = integerIn(where, "provisionedPollerConfig.maximumPollers", config.maximumPollers, 200, 1, 2000);
  if (min > max) fail(where, `provisionedPollerConfig.minimumPollers (${min}) exceeds maximumPollers (${max})`);
  const group = config.pollerGroupName;
  if (group !== undefined && (typeof group !== "string" || !/^[a-zA-Z0-9_-]{1,128}$/.test(group)))
    fail(
      where,
      `provisionedPollerConfig.pollerGroupName must be 1 to 128 letters, digits, - or _ (got ${JSON.stringify(group)})`,
    );
}

/** MetricsConfig's groups (EventSourceMappingMetricsConfig). */
export const METRIC_GROUPS = ["EventCount", "ErrorCount", "KafkaMetrics"] as const;
export type MetricGroup = (typeof METRIC_GROUPS)[number];

/** metricsConfig: { metrics: [EventCount | ErrorCount | KafkaMetrics] }: the groups the onMetric hook receives (OffsetLag always). */
export function metricsOf(where: string, value: unknown): MetricGroup[] {
  if (value === undefined || value === null) return [];
  const metrics = (value as { metrics?: unknown }).metrics;
  const extra = typeof value === "object" ? Object.keys(value as object).filter((key) => key !== "metrics") : [];
  if (
    typeof value !== "object" ||
    extra.length > 0 ||
    !Array.isArray(metrics) ||
    metrics.length > 3 ||
    metrics.some((metric) => !METRIC_GROUPS.includes(metric))
  )
    fail(where, `metricsConfig must be { metrics: [${METRIC_GROUPS.join(" | ")}] } (got ${JSON.stringify(value)})`);
  return [...new Set(metrics as MetricGroup[])];
}

/** LoggingConfig.SystemLogLevel of an event source mapping. */
export const SYSTEM_LOG_LEVELS = ["DEBUG", "INFO", "WARN"] as const;
export type SystemLogLevel = (typeof SYSTEM_LOG_LEVELS)[number];

/** loggingConfig: { systemLogLevel: DEBUG | INFO | WARN }: the level of this event's poller logs. */
export function systemLogLevelOf(where: string, value: unknown): SystemLogLevel | undefined {
  if (value === undefined || value === null) return undefined;
  const level = (value as { systemLogLevel?: unknown }).systemLogLevel;
  const extra = typeof value === "object" ? Object.keys(value as object).filter((key) => key !== "systemLogLevel") : [];
  if (typeof value !== "object" || extra.length > 0 || !SYSTEM_LOG_LEVELS.includes(level as SystemLogLevel))
    fail(where, `loggingConfig must be { systemLogLevel: ${SYSTEM_LOG_LEVELS.join(" | ")} } (got ${JSON.stringify(value)})`);
  return level as SystemLogLevel;
}
