import type { KafkaMessage } from "kafkajs";
import { matchesAny } from "./filter-criteria.js";
import type { PollerDefinition } from "./poller-options.js";

/**
 * A fetched partition batch -> chunks of at most batchSize records to deliver, each with the offset it is
 * committed through. Records no filter pattern matches are never delivered (as on AWS): they are committed
 * with the chunk after them, or on their own when nothing after them in this batch is delivered.
 */
export function chunksOf(
  messages: KafkaMessage[],
  { batchSize, filters }: Pick<PollerDefinition, "batchSize" | "filters">,
): { chunks: { deliver: KafkaMessage[]; through: string }[]; filteredOut: number } {
  const last = messages[messages.length - 1];
  if (!last) return { chunks: [], filteredOut: 0 };
  const kept = filters?.length ? messages.filter((message) => matchesAny(filters, message.value)) : messages;
  const chunks: { deliver: KafkaMessage[]; through: string }[] = [];
  for (let start = 0; start < kept.length; start += batchSize) {
    const deliver = kept.slice(start, start + batchSize);
    chunks.push({ deliver, through: (deliver[deliver.length - 1] as KafkaMessage).offset });
  }
  const tail = chunks[chunks.length - 1];
  if (!tail) chunks.push({ deliver: [], through: last.offset });
  else tail.through = last.offset;
  return { chunks, filteredOut: messages.length - kept.length };
}

/**
 * Commits that run after their eachBatch call returned (a batching window was open), by "topic-partition":
 * stop() waits for them, and no commit past control records is made while one of a partition waits.
 */
export class PendingCommits {
  private readonly byPartition = new Map<string, number>();
  private readonly running = new Set<Promise<unknown>>();

  track(key: string, work: Promise<unknown>): void {
    this.byPartition.set(key, (this.byPartition.get(key) ?? 0) + 1);
    const tracked = work
      .catch(() => {})
      .finally(() => {
        const left = (this.byPartition.get(key) ?? 1) - 1;
        if (left > 0) this.byPartition.set(key, left);
        else this.byPartition.delete(key);
        this.running.delete(tracked);
      });
    this.running.add(tracked);
  }

  waiting(key: string): boolean {
    return this.byPartition.has(key);
  }

  async settled(): Promise<void> {
    await Promise.all([...this.running]);
  }
}
