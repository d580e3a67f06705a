import { type Kafka, type Message, Partitioners, type PartitionMetadata } from "kafkajs";
import { fetchPartitionCounts } from "./admin.js";

/** How long a topic's partition count is trusted (KafkaJS's own metadata max age); partitions are only ever added. */
const PARTITION_COUNT_MAX_AGE_MS = 300_000;

/** The messages for one topic partition, and the callers they came from. */
export interface PartitionBatch<Caller> {
  topic: string;
  partition: number;
  messages: Message[];
  callers: Set<Caller>;
}

/**
 * Assigns each message its partition before it goes to KafkaJS, so a send can be split into one request
 * per partition.
 *
 * Why: KafkaJS 2.2.4 (sendMessages.js) remembers, across the retries of one send, which brokers already
 * answered. When one broker answers and another fails with NOT_LEADER, and the failed partitions' new
 * leader is the broker that already answered, the retry skips it: send() resolves, those messages were
 * never written (found by test/faults/cluster.test.ts, 1-5 acknowledged POSTs lost per rolling restart;
 * upstream: tulios/kafkajs#1798, unreleased). A send of one partition is one request to one broker at a
 * time, so its retry always goes to the partition's current leader.
 *
 * Keyed messages land where KafkaJS's default partitioner (murmur2, as the Java client) would put them; a
 * message's own `partition` is kept.
 */
export class PartitionAssigner {
  private readonly kafka: Kafka;
  private readonly partitioner = Partitioners.DefaultPartitioner();
  private readonly known = new Map<string, { metadata: PartitionMetadata[]; fetchedAt: number }>();

  constructor(kafka: Kafka) {
    this.kafka = kafka;
  }

  /** `entries`' messages grouped by topic partition, in the order they were given within each partition. */
  async split<Caller>(
    entries: Iterable<{ caller: Caller; topic: string; messages: Message[] }>,
  ): Promise<PartitionBatch<Caller>[]> {
    const list = [...entries];
    await this.refresh([...new Set(list.map(({ topic }) => topic))]);
    const batches = new Map<string, PartitionBatch<Caller>>();
    for (const { caller, topic, messages } of list) {
      const partitionMetadata = this.known.get(topic)?.metadata ?? [];
      if (!partitionMetadata.length) throw new Error(`no partitions of topic ${topic} in the cluster's metadata`);
      for (const message of messages) {
        const partition = this.partitioner({ topic, partitionMetadata, message });
        const id = `${partition}\u0000${topic}`;
        let batch = batches.get(id);
        if (!batch) {
          batch = { topic, partition, messages: [], callers: new Set() };
          batches.set(id, batch);
        }
        batch.messages.push(message.partition === partition ? message : { ...message, partition });
        batch.callers.add(caller);
      }
    }
    return [...batches.values()];
  }

  /** Forgets what it knows, so the next send asks the cluster again (after a failed send). */
  forget(): void {
    this.known.clear();
  }

  private async refresh(topics: string[]): Promise<void> {
    const now = Date.now();
    const stale = topics.filter((topic) => {
      const entry = this.known.get(topic);
      return !entry || now - entry.fetchedAt > PARTITION_COUNT_MAX_AGE_MS;
    });
    if (!stale.length) return;
    const counts = await fetchPartitionCounts(stale, this.kafka);
    for (const [topic, count] of counts) {
      // The partitioner reads only the count (keyed) and which partitions have a leader (unkeyed): all, here.
      const metadata = Array.from({ length: count }, (_, partitionId) => ({
        partitionErrorCode: 0,
        partitionId,
        leader: 0,
        replicas: [],
        isr: [],
      }));
      this.known.set(topic, { metadata, fetchedAt: now });
    }
  }
}
