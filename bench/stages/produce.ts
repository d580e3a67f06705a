import type { Message } from "kafkajs";
import { toMessage } from "../../lib/ingest.js";
import { ensureTopics } from "../../lib/kafka/admin.js";
import { CoalescingProducer } from "../../lib/kafka/coalescing-producer.js";
import { TransactionInput } from "../../lib/transaction.js";
import { type RunContext, topicName } from "../lib/context.js";
import { percentile, row } from "../lib/report.js";

/** One producer path measured: acks (messages acknowledged) per second and the latency of one call. */
interface PathResult {
  acksPerSec: number;
  callsPerSec: number;
  p50ms: number;
  p99ms: number;
  /** Messages per coalesced send (transactional: per transaction). */
  messagesPerSend: number;
  failed: number;
}

/**
 * `callers` concurrent loops, each producing `perCall` messages and waiting for the ack, as concurrent
 * requests do, for `seconds`.
 */
async function drive(
  producer: CoalescingProducer,
  topic: string,
  messages: readonly Message[],
  callers: number,
  perCall: number,
  seconds: number,
): Promise<{ calls: number; acked: number; failed: number; latencies: number[]; sends: number }> {
  const latencies: number[] = [];
  const sendsBefore = producer.stats.committed;
  let failed = 0;
  let next = 0;
  const deadline = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (performance.now() < deadline) {
        const batch = Array.from({ length: perCall }, () => messages[next++ % messages.length] as Message);
        const started = performance.now();
        try {
          await producer.produce(topic, batch);
          latencies.push(performance.now() - started);
        } catch {
          failed += 1;
        }
      }
    }),
  );
  return {
    calls: latencies.length,
    acked: latencies.length * perCall,
    failed,
    latencies,
    sends: producer.stats.committed - sendsBefore,
  };
}

/**
 * Both paths, alternating (reference, transactional, reference, transactional) so drift in the machine's
 * load touches both alike; `seconds` per path in all.
 */
async function compare(
  paths: { reference: CoalescingProducer; transactional: CoalescingProducer },
  topic: string,
  messages: readonly Message[],
  callers: number,
  perCall: number,
  seconds: number,
  warmupSec: number,
): Promise<{ reference: PathResult; transactional: PathResult }> {
  const totals = {
    reference: { calls: 0, acked: 0, failed: 0, latencies: [] as number[], sends: 0 },
    transactional: { calls: 0, acked: 0, failed: 0, latencies: [] as number[], sends: 0 },
  };
  for (const name of ["reference", "transactional"] as const) {
    await drive(paths[name], topic, messages, callers, perCall, warmupSec);
  }
  const rounds = 2;
  for (let round = 0; round < rounds; round += 1) {
    for (const name of ["reference", "transactional"] as const) {
      const result = await drive(paths[name], topic, messages, callers, perCall, seconds / rounds);
      const total = totals[name];
      total.calls += result.calls;
      total.acked += result.acked;
      total.failed += result.failed;
      // Not push(...latencies): a fast machine records more latencies than a call may take arguments.
      for (const latency of result.latencies) total.latencies.push(latency);
      total.sends += result.sends;
    }
  }
  const summarise = (total: (typeof totals)["reference"]): PathResult => ({
    acksPerSec: total.acked / seconds,
    callsPerSec: total.calls / seconds,
    p50ms: Math.round(percentile(total.latencies, 50) * 10) / 10,
    p99ms: Math.round(percentile(total.latencies, 99) * 10) / 10,
    messagesPerSend: total.sends ? Math.round((total.acked / total.sends) * 10) / 10 : 0,
    failed: total.failed,
  });
  return { reference: summarise(totals.reference), transactional: summarise(totals.transactional) };
}

/**
 * Stage 7: the API's producer (lib/kafka/producer.ts) in this process, no HTTP: what Kafka transactions
 * cost. Concurrent callers produce and wait for their ack through the same coalescing producer, once
 * transactional (the API's: one transaction per coalesced send) and once idempotent non-transactional
 * (the reference: one acks=all send), on the same topic in the same run. As stage 2 (one message a
 * call, `httpConnections` callers) and stage 3 (`bulkSize` messages a call, `bulkConnections` callers).
 */
export async function produceCost(context: RunContext): Promise<void> {
  const { sizes } = context;
  const topic = topicName(context, "produce");
  await ensureTopics([topic]);
  const messages = context.bodies
    .slice(0, 5_000)
    .map((body) => toMessage(TransactionInput.parse(JSON.parse(body))).message as Message);
  const options = { maxPendingMessages: 1_000_000 };
  const paths = {
    reference: new CoalescingProducer({ ...options, transactional: false }),
    transactional: new CoalescingProducer({ ...options, transactional: true }),
  };
  const seconds = Math.max(1, sizes.httpDurationSec / 2);
  try {
    const cases = [
      { name: "single", callers: sizes.httpConnections, perCall: 1 },
      { name: "bulk", callers: sizes.bulkConnections, perCall: sizes.bulkSize },
    ];
    for (const { name, callers, perCall } of cases) {
      context.log.info({ stage: "7", case: name, callers, perCall, seconds }, "measuring");
      const result = await compare(paths, topic, messages, callers, perCall, seconds, sizes.warmupSec);
      context.log.info({ stage: "7", case: name, ...result }, "measured");
      context.details[`produce-${name}`] = { callers, perCall, seconds, ...result };
      if (result.transactional.failed || result.reference.failed) {
        throw new Error(`7 produce ${name}: failed calls (${JSON.stringify(result)})`);
      }
      const { reference, transactional } = result;
      context.rows.push(
        row(
          "7 produce, no HTTP",
          `acks/s, ${callers} callers x ${perCall} msg, transactional (ref: idempotent)`,
          transactional.acksPerSec,
          "msg/s",
          {
            reference: reference.acksPerSec,
            note:
              `transactional p50 ${transactional.p50ms} ms, p99 ${transactional.p99ms} ms, ${transactional.messagesPerSend} msgs/transaction; ` +
              `idempotent p50 ${reference.p50ms} ms, p99 ${reference.p99ms} ms, ${reference.messagesPerSend} msgs/send`,
          },
        ),
      );
    }
  } finally {
    await Promise.all([paths.reference.disconnect(), paths.transactional.disconnect()]);
  }
}
