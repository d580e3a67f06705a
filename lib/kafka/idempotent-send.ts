import { CompressionTypes } from "kafkajs";
import { withTimeout } from "../timeout.js";
import { callersOf, type PendingSend } from "./send-queue.js";
import { budgetOf, type SendContext } from "./send-strategy.js";

/**
 * One idempotent acks=all request per partition, all at once (KafkaJS queues those for one broker behind
 * each other). A caller resolves as soon as every partition holding its messages is acknowledged; the
 * callers of a partition that failed or ran out of budget get the error, so a failure part-way leaves some
 * callers stored and the others refused. Any failure replaces the producer.
 */
export async function sendIdempotent(context: SendContext, batch: PendingSend[]): Promise<void> {
  const { slot, stats } = context;
  const used = slot.connected();
  const failures: unknown[] = [];
  const sent = (async () => {
    const producer = await used;
    const partitions = await context.partitions.split(callersOf(batch));
    const waitingFor = new Map(batch.map((entry) => [entry, 0]));
    for (const { callers } of partitions) for (const entry of callers) waitingFor.set(entry, (waitingFor.get(entry) ?? 0) + 1);
    await Promise.all(
      partitions.map(async ({ topic, messages, callers }) => {
        try {
          await producer.sendBatch({ topicMessages: [{ topic, messages }], acks: -1, compression: CompressionTypes.None });
        } catch (error) {
          failures.push(error);
          for (const entry of callers) entry.settle(error);
          return;
        }
        for (const entry of callers) {
          const left = (waitingFor.get(entry) ?? 1) - 1;
          waitingFor.set(entry, left);
          if (left === 0) entry.settle();
        }
      }),
    );
  })();
  try {
    await withTimeout(sent, budgetOf(batch), "producing to Kafka");
  } catch (error) {
    failures.push(error);
  }
  if (failures.length === 0) {
    stats.committed += 1;
    return;
  }
  stats.failed += 1;
  // A caller answered 503 here may still be stored: its request may have reached the broker.
  for (const entry of batch) entry.settle(failures[0]);
  slot.replace(used, sent);
}
