import { type IHeaders, type Kafka, type KafkaMessage, type Message, Partitioners, type Producer } from "kafkajs";
import { MAX_DEAD_LETTER_MESSAGE_BYTES } from "../../lib/consumer/dead-letters.js";
import { TimeoutError } from "../../lib/errors.js";
import { ensureTopics } from "../../lib/kafka/admin.js";
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
function failureReason(error: unknown): string {
  if (error instanceof TimeoutError) return "function-timeout";
  if (error instanceof RecordAgeExceededError) return "record-age-exceeded";
  if (error instanceof BatchItemFailuresError) return "function-reported-failure";
  return "function-error";
}

const headerBytes = (headers: IHeaders) =>
  Object.entries(headers).reduce((sum, [name, value]) => sum + name.length + Buffer.byteLength(String(value ?? "")), 0);

/**
 * The record as Lambda's Kafka on-failure destination receives it, "the actual failed record along with
 * failure metadata": its key, value and headers, plus headers in the form the consumer's own dead letters
 * use (lib/consumer/dead-letters.ts), so one reader handles both. A record too large to send again with
 * its headers carries a reference to its source offset instead of its value.
 */
export function failedRecordMessage(
  topic: string,
  partition: number,
  record: KafkaMessage,
  { functionKey, error }: FailureContext,
) {
  const context: IHeaders = {
    "dead-letter-reason": failureReason(error),
    "dead-letter-detail": errorMessages(error).slice(0, MAX_DETAIL_CHARS),
    "dead-letter-function": functionKey,
    "source-topic": topic,
    "source-partition": String(partition),
    "source-offset": record.offset,
    "source-timestamp": record.timestamp,
  };
  const whole: Message = { key: record.key, value: record.value, headers: { ...record.headers, ...context } };
  const bytes = (record.value?.length ?? 0) + (record.key?.length ?? 0) + headerBytes(whole.headers as IHeaders);
  if (bytes <= MAX_DEAD_LETTER_MESSAGE_BYTES) return whole;
  return {
    key: record.key,
    value: null,
    headers: { ...context, "dead-letter-value": `omitted (${bytes} bytes with headers); read it at the source offset` },
  } satisfies Message;
}

/**
 * The on-failure destination `kafka://<topic>` on the poller's own cluster: created on first use as the
 * project's other topics are (ensureTopics: config.TOPIC_PARTITIONS partitions, the configured or
 * cluster-sized replication), written with an idempotent acks=all producer.
 */
export class OnFailureDestination {
  readonly topic: string;
  private readonly kafka: Kafka;
  private producer: Producer | undefined;
  private ready: Promise<Producer> | undefined;

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
    await producer.send({ topic: this.topic, acks: -1, messages });
    // Beside the consume function's own dead letters in txlog_dead_letters_total (GET /metrics, the worker's port).
    metrics().deadLetters.inc({ reason: failureReason(context.error) }, messages.length);
  }

  async disconnect(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    this.ready = undefined;
    await producer?.disconnect();
  }

  private connect(): Promise<Producer> {
    this.ready ??= (async () => {
      await ensureTopics([this.topic], { kafka: this.kafka });
      const producer = this.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        // Murmur2 on the key, as the API's producer: a key's failed records land on one partition, in order.
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await producer.connect();
      this.producer = producer;
      return producer;
    })().catch((error: unknown) => {
      this.ready = undefined;
      throw error;
    });
    return this.ready;
  }
}
