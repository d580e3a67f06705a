/**
 * The trigger's metrics under the names Lambda publishes for a Kafka event source mapping (namespace AWS/Lambda,
 * monitoring-metrics-types.html, "Event source mapping metrics"), handed to the host's `onMetric` hook, e.g. to
 * count them in Prometheus. Each comes with the dimensions the local trigger knows.
 * - EventCount group: PolledEventCount (records read), FilteredOutEventCount (matched no filter),
 *   InvokedEventCount (records in invocations, each attempt), FailedInvokeEventCount (records in failed ones),
 *   DroppedEventCount (given up on: retries exhausted or too old), OnFailureDestinationDeliveredEventCount.
 * - OffsetLag: the records between the group's committed offset and the partition's end, after each commit.
 */
export const METRIC_NAMES = [
  "PolledEventCount",
  "FilteredOutEventCount",
  "InvokedEventCount",
  "FailedInvokeEventCount",
  "DroppedEventCount",
  "OnFailureDestinationDeliveredEventCount",
  "OffsetLag",
] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

/** Counts add up (a Prometheus counter); OffsetLag is a gauge, the latest value per partition. */
export const METRIC_KINDS: Record<MetricName, "counter" | "gauge"> = {
  PolledEventCount: "counter",
  FilteredOutEventCount: "counter",
  InvokedEventCount: "counter",
  FailedInvokeEventCount: "counter",
  DroppedEventCount: "counter",
  OnFailureDestinationDeliveredEventCount: "counter",
  OffsetLag: "gauge",
};

export interface MetricDimensions {
  /** The function's key in serverless.yml. */
  functionName: string;
  topic: string;
  consumerGroupId: string;
  /** OffsetLag only. */
  partition?: number;
  /** DroppedEventCount and OnFailureDestinationDeliveredEventCount: why the records were given up on. */
  reason?: FailureReason;
}

/** Why records were given up on. */
export type FailureReason = "function-error" | "function-timeout" | "record-age-exceeded" | "function-reported-failure";

export interface TriggerMetric {
  name: MetricName;
  value: number;
  dimensions: MetricDimensions;
}

export type MetricHook = (metric: TriggerMetric) => void;

/**
 * A poller's emitter, never throwing into the poller. `groups` is the event's metricsConfig: when it names
 * groups, the EventCount metrics reach the hook only if EventCount is among them (OffsetLag always does, as on
 * AWS); without a metricsConfig every metric does (locally they cost nothing).
 */
export function metricEmitter(
  hook: MetricHook | undefined,
  base: Omit<MetricDimensions, "partition" | "reason">,
  groups: readonly string[] = [],
) {
  const eventCounts = groups.length === 0 || groups.includes("EventCount");
  return (name: MetricName, value: number, extra: Pick<MetricDimensions, "partition" | "reason"> = {}) => {
    if (!hook || (value === 0 && METRIC_KINDS[name] === "counter")) return;
    if (name !== "OffsetLag" && !eventCounts) return;
    try {
      hook({ name, value, dimensions: { ...base, ...extra } });
    } catch {
      // A metrics hook that throws must not fail a batch.
    }
  };
}
export type EmitMetric = ReturnType<typeof metricEmitter>;
