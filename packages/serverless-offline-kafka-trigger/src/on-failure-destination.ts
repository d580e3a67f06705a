import { type Kafka, type Message, Partitioners, type Producer } from "kafkajs";
import type { BatchPart } from "./batcher.js";
import { awsFailureRecord, type FailedRecordFormatter, type FailureContext } from "./on-failure-record.js";
import { type EnsureTopics, ensureTopicsExist } from "./topics.js";

/** A request stays under the broker's default message.max.bytes (1 MiB) with room for headers and framing. */
const MAX_REQUEST_BYTES = 512 * 1024;

function bytesOf({ key, value, headers }: Message): number {
  let bytes = (value?.length ?? 0) + (key?.length ?? 0) + 64;
  for (const [name, header] of Object.entries(headers ?? {})) bytes += name.length + String(header ?? "").length;
  return bytes;
}

/** How long the destination waits for the broker to acknowledge a failed batch's records. */
const SEND_TIMEOUT_MS = 30_000;

export interface OnFailureDestinationOptions {
  /** Builds each failed record's message; default: AWS's invocation record with the record as payload. */
  format?: FailedRecordFormatter;
  /** Creates the topic when missing; default: created with the broker's defaults. */
  ensureTopics?: EnsureTopics;
}

/**
 * The on-failure destination `kafka://<topic>` on the poller's own cluster. Records are written with an
 * idempotent acks=all producer, one request per destination partition: KafkaJS 2.2.4 can acknowledge a
 * multi-partition send whose retry skipped a partition's new leader (tulios/kafkajs#1798), so each request
 * names one partition and its retry goes to that partition's current leader.
 */
export class OnFailureDestination {
  readonly topic: string;
  private readonly kafka: Kafka;
  private readonly format: FailedRecordFormatter;
  private readonly ensureTopics: EnsureTopics;
  private producer: Producer | undefined;
  private ready: Promise<Producer> | undefined;
  private readonly partitioner = Partitioners.DefaultPartitioner();

  constructor(kafka: Kafka, topic: string, options: OnFailureDestinationOptions = {}) {
    this.kafka = kafka;
    this.topic = topic;
    this.format = options.format ?? awsFailureRecord;
    this.ensureTopics = options.ensureTopics ?? ensureTopicsExist;
  }

  /** Resolves once the broker acknowledged every record of `parts`; rejects (nothing to commit) otherwise. */
  async send(parts: BatchPart[], context: FailureContext): Promise<number> {
    const producer = await this.connect();
    const messages = parts.flatMap(({ topic, partition, messages: records }) =>
      records.map((record) => this.format(topic, partition, record, context, parts)),
    );
    const admin = this.kafka.admin();
    await admin.connect();
    let partitionMetadata: Awaited<ReturnType<typeof admin.fetchTopicMetadata>>["topics"][number]["partitions"];
    try {
      partitionMetadata = (await admin.fetchTopicMetadata({ topics: [this.topic] })).topics[0]?.partitions ?? [];
    } finally {
      await admin.disconnect();
    }
    const byPartition = new Map<number, { messages: Message[]; bytes: number }[]>();
    for (const message of messages) {
      const partition = message.partition ?? this.partitioner({ topic: this.topic, partitionMetadata, message });
      const requests = byPartition.get(partition) ?? [];
      byPartition.set(partition, requests);
      const bytes = bytesOf(message);
      const last = requests[requests.length - 1];
      if (last && last.bytes + bytes <= MAX_REQUEST_BYTES) {
        last.messages.push({ ...message, partition });
        last.bytes += bytes;
      } else requests.push({ messages: [{ ...message, partition }], bytes });
    }
    // Partitions in parallel, each partition's requests one after another (in order).
    await Promise.all(
      [...byPartition.values()].map(async (requests) => {
        for (const request of requests)
          await producer.send({ topic: this.topic, messages: request.messages, acks: -1, timeout: SEND_TIMEOUT_MS });
      }),
    );
    return messages.length;
  }

  async disconnect(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    this.ready = undefined;
    await producer?.disconnect();
  }

  private connect(): Promise<Producer> {
    this.ready ??= (async () => {
      await this.ensureTopics([this.topic], this.kafka);
      const producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
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
