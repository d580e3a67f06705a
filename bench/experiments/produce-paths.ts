/**
 * Is POST /transaction bounded by one produce at a time? Evidence for the stage 2 bound, not part of
 * `npm run bench`:
 *
 *   npx tsx bench/experiments/produce-paths.ts [--callers 50] [--seconds 5]
 *
 * `callers` concurrent loops each send one message and wait for its ack (as concurrent requests do):
 * (a) through lib/kafka/client produce() (idempotent, acks=all, maxInFlightRequests 1), one send a
 *     message; (b) the same producer, but messages that arrive while a send is in flight are coalesced
 *     into the next send (each caller still waits for its own ack).
 */
import { parseArgs } from "node:util";
import type { Message } from "kafkajs";
import { toMessage } from "../../lib/ingest.js";
import { ensureTopics } from "../../lib/kafka/admin.js";
import { disconnectProducer, produce } from "../../lib/kafka/producer.js";
import { type Transaction, TransactionInput } from "../../lib/transaction.js";
import { deleteTopicsAndGroups } from "../lib/kafka.js";
import { paysimBodies } from "../lib/paysim.js";
import { percentile } from "../lib/report.js";

const { values } = parseArgs({
  options: { callers: { type: "string", default: "50" }, seconds: { type: "string", default: "5" } },
});
const callers = Number(values.callers);
const seconds = Number(values.seconds);
const topic = `bench.experiment.produce.${Date.now().toString(36)}`;
await ensureTopics([topic]);
const samples = paysimBodies(undefined, 1000).map((body) => TransactionInput.parse(body) as Transaction);

/** Coalesces messages that arrive while a send is in flight into the next send. */
function coalescing(send: (messages: Message[]) => Promise<unknown>) {
  let queue: { message: Message; done: (error?: unknown) => void }[] = [];
  let inFlight = false;
  const flush = async () => {
    if (inFlight || !queue.length) return;
    inFlight = true;
    const taken = queue;
    queue = [];
    try {
      await send(taken.map(({ message }) => message));
      for (const { done } of taken) done();
    } catch (error) {
      for (const { done } of taken) done(error);
    } finally {
      inFlight = false;
      void flush();
    }
  };
  return (message: Message) =>
    new Promise<void>((resolve, reject) => {
      queue.push({ message, done: (error) => (error ? reject(error) : resolve()) });
      void flush();
    });
}

async function run(name: string, sendOne: (message: Message) => Promise<unknown>) {
  const latencies: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  let i = 0;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (performance.now() < deadline) {
        const { message } = toMessage(samples[i++ % samples.length] as Transaction);
        const started = performance.now();
        await sendOne(message);
        latencies.push(performance.now() - started);
      }
    }),
  );
  console.log(
    JSON.stringify({
      path: name,
      callers,
      acksPerSec: Math.round(latencies.length / seconds),
      p50ms: Math.round(percentile(latencies, 50) * 10) / 10,
      p99ms: Math.round(percentile(latencies, 99) * 10) / 10,
    }),
  );
}

await run("produce() a message (today's POST /transaction)", (message) => produce(topic, [message]));
await run(
  "produce() of coalesced messages",
  coalescing((messages) => produce(topic, messages)),
);
await disconnectProducer();
await deleteTopicsAndGroups([topic], []);
