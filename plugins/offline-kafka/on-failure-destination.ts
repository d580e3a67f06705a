import type { Kafka, KafkaMessage, Message } from "kafkajs";
import { deadLetterMessage } from "../../lib/consumer/dead-letters.js";
import type { OnFailureReason } from "../../lib/consumer/reasons.js";
import { TimeoutError } from "../../lib/errors.js";
import { ensureTopics } from "../../lib/kafka/admin.js";
import { CoalescingProducer } from "../../lib/kafka/coalescing-producer.js";
import { metrics } from "../../lib/metrics.js";
import type { BatchPart } from "./batcher.js";
import { BatchItemFailuresError, RecordAgeExceededError } from "./failure-handling.js";
import { errorMessages } from "./retry.js";

/** The error text carried in a header is cut to this many characters. */
const MAX_DETAIL_CHARS = 1_000;

export interface FailureContext {
  functionKey: string;
  error: unknown;
}

/** The `dead-letter-reason` header: why the record was given up on. */
function failureReason(error: unknown): OnFailureReason {
  if (error instanceof TimeoutError) return "function-timeout";
  if (error instanceof RecordAgeExceededError) return "record-age-exceeded";
  if (error instanceof BatchItemFailuresError) return "function-reported-failure";
  return "function-error";
}

/**
 * The record as Lambda's Kafka on-failure destination receives it, "the actual failed record along with
 * failure metadata": built by the consume function's own dead-letter builder (lib/consumer/dead-letters.ts,
 * one size rule: a reference to the source offset above it), plus the function's name.
 */
export function failedRecordMessage(
  topic: string,
  partition: number,
  record: KafkaMessage,
  { functionKey, error }: FailureContext,
): Message {
  return deadLetterMessage({
    topic,
    partition,
    offset: record.offset,
    timestamp: record.timestamp,
    key: record.key,
    value: record.value,
    headers: record.headers,
    reason: failureReason(error),
    detail: errorMessages(error).slice(0, MAX_DETAIL_CHARS),
    extra: { "dead-letter-function": functionKey },
  });
}

/** How long the destination waits for the broker to acknowledge a failed batch's records. */
const SEND_TIMEOUT_MS = 30_000;
/** The queue bound: a failed batch is at most the event's batchSize (10,000) records, all queued at once. */
const MAX_PENDING_MESSAGES = 100_000;

/**
 * The on-failure destination `kafka://<topic>` on the poller's own cluster: created on first use as the
 * project's other topics are (ensureTopics: config.TOPIC_PARTITIONS partitions, the configured or
 * cluster-sized replication), written as the consume function's dead letters are: one idempotent acks=all
 * request per partition (lib/kafka/partitions.ts says why a multi-partition send can lose records), one
 * produce call per message so large records never add up to a request the broker refuses.
 */
export class OnFailureDestination {
  readonly topic: string;
  private readonly kafka: Kafka;
  private producer: CoalescingProducer | undefined;
  private ready: Promise<CoalescingProducer> | undefined;

  constructor(kafka: Kafka, topic: string) {
    this.kafka = kafka;
    this.topic = topic;
  }

  /** Resolves once the broker acknowledged every record of `parts`; rejects (nothing to commit) otherwise. */
  async send(parts: BatchPart[], context: FailureContext): Promise<void> {
    const producer = await this.connect();
    const messages = parts.flatMap(({ topic, partition, messages: records }) =>
      records.map((record) => failedRecordMessage(topic, partition, record, context)),
    );
    // Queued in order: the producer keeps a partition's messages in the order they were given.
    await Promise.all(messages.map((message) => producer.produce(this.topic, [message], SEND_TIMEOUT_MS)));
    // Beside the consume function's own dead letters in txlog_dead_letters_total (GET /metrics, the worker's port).
    metrics().deadLetters.inc({ reason: failureReason(context.error) }, messages.length);
  }

  async disconnect(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    this.ready = undefined;
    await producer?.disconnect();
  }

  private connect(): Promise<CoalescingProducer> {
    this.ready ??= (async () => {
      await ensureTopics([this.topic], { kafka: this.kafka });
      this.producer = new CoalescingProducer({
        transactional: false,
        kafka: this.kafka,
        maxPendingMessages: MAX_PENDING_MESSAGES,
      });
      return this.producer;
    })().catch((error: unknown) => {
      this.ready = undefined;
      throw error;
    });
    return this.ready;
  }
}
