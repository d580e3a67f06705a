import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { OnFailureReason, PoisonReason } from "./consumer/reasons.js";

/**
 * The Prometheus metrics of this process (prom-client), served by GET /metrics and by the worker's own
 * metrics port. One registry per process, held on globalThis like the pg pool (lib/db/client.ts):
 * serverless-offline runs every function's bundle in one process, each bundle with its own copy of this
 * module, and the local Kafka trigger imports the sources besides; the first copy creates the metrics,
 * every other copy records into the same ones. In a deployed Lambda each container counts its own
 * requests (scrape or sum accordingly); the Kafka figures are read at every scrape (metrics-exposition.ts), so any process shows them.
 */
export interface TxlogMetrics {
  registry: Registry;
  httpRequests: Counter<"method" | "route" | "status">;
  handlerDuration: Histogram<"handler">;
  produceDuration: Histogram<"outcome">;
  producedMessages: Counter<"outcome">;
  batches: Counter<"outcome">;
  recordsConsumed: Counter;
  recordsStored: Counter;
  recordsDuplicate: Counter;
  deadLetters: Counter<"reason">;
  deadLetterTopicMessages: Gauge<"topic">;
  consumerLag: Gauge<"topic" | "partition" | "group">;
  /** The local Kafka trigger's event source mapping metrics, under AWS's names (the `metric` label). */
  triggerEvents: Counter<"function" | "metric" | "reason">;
  triggerOffsetLag: Gauge<"function" | "topic" | "partition">;
  /** The (topic, consumer group) pairs whose lag a scrape reads: the configured pipeline's, and each poller's. */
  lagTargets: Map<string, { topic: string; groupId: string }>;
  defaultMetrics: boolean;
}

const METRICS = Symbol.for("txlog.metrics");
const holder = globalThis as typeof globalThis & { [METRICS]?: TxlogMetrics };

/**
 * Seconds: from a cached answer (~1 ms) to the slowest produce outcome, a caller's budget and then the wait
 * for its commit (PRODUCE_TIMEOUT_MS + COMMIT_TIMEOUT_MS, lib/kafka/coalescing-producer.ts).
 */
const PRODUCE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 8];
/** Seconds: an HTTP handler (ms) up to the consume function's 60 s timeout. */
const HANDLER_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

function createMetrics(): TxlogMetrics {
  const registry = new Registry();
  const lagTargets = new Map<string, { topic: string; groupId: string }>();
  const metrics: TxlogMetrics = {
    registry,
    lagTargets,
    defaultMetrics: false,
    httpRequests: new Counter({
      name: "txlog_http_requests_total",
      help: "HTTP requests answered by the handlers, by method, route (the API Gateway resource) and status. Requests API Gateway refused (403 without the API key) never reach a handler.",
      labelNames: ["method", "route", "status"],
      registers: [registry],
    }),
    handlerDuration: new Histogram({
      name: "txlog_handler_duration_seconds",
      help: 'Time spent in a handler: "<METHOD> <route>" for HTTP functions, "consume" for the Kafka consume function.',
      labelNames: ["handler"],
      buckets: HANDLER_BUCKETS,
      registers: [registry],
    }),
    produceDuration: new Histogram({
      name: "txlog_produce_duration_seconds",
      help: "From a produce call (one HTTP request's messages, or one dead letter) to its outcome: acked (acks=all: the idempotent send of a single message acknowledged, or the Kafka transaction holding several committed), failed (refused or timed out: 503), refused (queue full: 503 at once).",
      labelNames: ["outcome"],
      buckets: PRODUCE_BUCKETS,
      registers: [registry],
    }),
    producedMessages: new Counter({
      name: "txlog_produced_messages_total",
      help: "Messages of produce calls, by outcome (acked, failed, refused).",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    batches: new Counter({
      name: "txlog_consumer_batches_total",
      help: "Batches (MSK events) the consume function handled: stored (committed to PostgreSQL) or failed (thrown: the trigger retries it).",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    recordsConsumed: new Counter({
      name: "txlog_consumer_records_total",
      help: "Records in batches the consume function stored (valid, duplicate and dead-lettered alike).",
      registers: [registry],
    }),
    recordsStored: new Counter({
      name: "txlog_records_stored_total",
      help: "Transactions inserted into PostgreSQL by the consume function (new ids only).",
      registers: [registry],
    }),
    recordsDuplicate: new Counter({
      name: "txlog_records_duplicate_total",
      help: "Records whose id was already stored with the same content (redeliveries, retries): skipped.",
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: "txlog_dead_letters_total",
      help: `Records dead-lettered, by reason: the consume function's (${PoisonReason.options.join(", ")}) and the trigger's on-failure destination's (${OnFailureReason.options.join(", ")}). A redelivered batch counts its poison records again.`,
      labelNames: ["reason"],
      registers: [registry],
    }),
    deadLetterTopicMessages: new Gauge({
      name: "txlog_dead_letter_topic_messages",
      help: "Messages retained on the dead-letter topic, whoever wrote them (the consume function, the trigger's on-failure destination, a tool), read from Kafka at each scrape.",
      labelNames: ["topic"],
      registers: [registry],
    }),
    triggerEvents: new Counter({
      name: "txlog_trigger_events_total",
      help: "The local Kafka trigger's event source mapping metrics under AWS's names (metric: PolledEventCount, FilteredOutEventCount, InvokedEventCount, FailedInvokeEventCount, DroppedEventCount, OnFailureDestinationDeliveredEventCount), by function; reason for records given up on.",
      labelNames: ["function", "metric", "reason"],
      registers: [registry],
    }),
    triggerOffsetLag: new Gauge({
      name: "txlog_trigger_offset_lag",
      help: "The local Kafka trigger's OffsetLag (AWS's name): records between the group's committed offset and the partition's end, after the poller's last commit.",
      labelNames: ["function", "topic", "partition"],
      registers: [registry],
    }),
    consumerLag: new Gauge({
      name: "txlog_consumer_lag",
      help: "Records of the topic's partition the consumer group has not committed yet (high watermark - committed offset), read from Kafka at each scrape.",
      labelNames: ["topic", "partition", "group"],
      registers: [registry],
    }),
  };
  return metrics;
}

/** This process's metrics (created by the first caller, in whichever bundle). */
export function metrics(): TxlogMetrics {
  holder[METRICS] ??= createMetrics();
  return holder[METRICS];
}

/** Adds a (topic, consumer group) pair whose lag per partition every scrape reports (the local trigger's pollers). */
export function watchConsumerLag(topic: string, groupId: string): void {
  metrics().lagTargets.set(`${topic}\u0000${groupId}`, { topic, groupId });
}

/** Records how long `handler` took since `startedMs` (performance.now()). */
export function observeHandler(handler: string, startedMs: number): void {
  metrics().handlerDuration.observe({ handler }, (performance.now() - startedMs) / 1000);
}

/** Records a produce call of `count` messages since `startedMs` (performance.now()) and its outcome. */
export function observeProduce(outcome: "acked" | "failed" | "refused", count: number, startedMs: number): void {
  const current = metrics();
  current.produceDuration.observe({ outcome }, (performance.now() - startedMs) / 1000);
  current.producedMessages.inc({ outcome }, count);
}
