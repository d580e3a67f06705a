/**
 * Does a rolling restart of a 3-broker cluster lose acknowledged writes? The control for the finding of
 * test/faults/cluster.test.ts (docs/faults.md). Not part of `npm run bench`:
 *
 *   npx tsx bench/experiments/rolling-restart-acks.ts [--send kafkajs|ours] [--producers 6] [--batch 6]
 *
 * A cluster of its own (free ports, temp dir), a topic of 3 partitions replicated 3 times with
 * min.insync.replicas 2. `producers` loops each send `batch` unique values with random keys (so one send
 * spans the partitions, as a coalesced send of the API does) and wait for the ack, until each node has
 * been stopped gracefully, started and is back in every ISR; then every acknowledged value is looked for
 * (read_uncommitted). `--send kafkajs`: one idempotent KafkaJS sendBatch a send; `--send ours`: lib/kafka's
 * CoalescingProducer (idempotent), which sends each partition in its own request (lib/kafka/partitions.ts).
 * Measured (6 producers, batches of 6, restarts of 25-36 s each): kafkajs 40 of 32,094 acknowledged values
 * missing; ours 0 of 27,270. Exit 1 when any is missing.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { Kafka, logLevel, type Message } from "kafkajs";
import { ensureTopics } from "../../lib/kafka/admin.js";
import { CoalescingProducer } from "../../lib/kafka/coalescing-producer.js";
import { freePort, NativeKafkaCluster, waitFor } from "../../scripts/infra/index.js";

const { values } = parseArgs({
  options: {
    send: { type: "string", default: "kafkajs" },
    producers: { type: "string", default: "6" },
    batch: { type: "string", default: "6" },
  },
});
if (values.send !== "kafkajs" && values.send !== "ours") {
  console.error(`--send is kafkajs or ours, not ${values.send}`);
  process.exit(2);
}
const batchSize = Number(values.batch);
const dir = mkdtempSync(join(tmpdir(), "txlog-rolling-"));
const layout = [];
for (let nodeId = 1; nodeId <= 3; nodeId += 1) layout.push({ nodeId, port: await freePort(), controllerPort: await freePort() });
const cluster = new NativeKafkaCluster({
  dir,
  cacheDir: resolve(import.meta.dirname, "../../.cache"),
  nodes: layout,
  heapMb: 256,
  properties: { "broker.session.timeout.ms": 6_000, "broker.heartbeat.interval.ms": 1_000 },
});
await cluster.start();
const kafka = new Kafka({ clientId: "rolling-restart-acks", brokers: cluster.brokers, logLevel: logLevel.NOTHING });
const topic = "experiment.rolling-restart";
await ensureTopics([topic], { kafka, partitions: 3, replicationFactor: 3, minInsyncReplicas: 2 });

const acked = new Set<string>();
let sequence = 0;
let failed = 0;
let running = true;
/** One send of `messages`, resolved once acknowledged. */
type Send = (messages: Message[]) => Promise<unknown>;
async function sender(): Promise<{ send: Send; close: () => Promise<void> }> {
  if (values.send === "ours") {
    const producer = new CoalescingProducer({ transactional: false, maxPendingMessages: 100_000, kafka });
    return { send: (messages) => producer.produce(topic, messages), close: () => producer.disconnect() };
  }
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  return { send: (messages) => producer.send({ topic, acks: -1, messages }), close: () => producer.disconnect() };
}

const lanes = Array.from({ length: Number(values.producers) }, async () => {
  const { send, close } = await sender();
  while (running) {
    const messages = Array.from({ length: batchSize }, () => {
      const value = `m${sequence++}`;
      return { key: randomUUID(), value };
    });
    try {
      await send(messages);
      for (const { value } of messages) acked.add(value);
    } catch {
      failed += messages.length;
    }
    await sleep(5);
  }
  await close();
});

const inSync = async () => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    return topics[0]?.partitions.every((partition) => partition.isr.length === 3) ?? false;
  } catch {
    return false;
  } finally {
    await admin.disconnect();
  }
};

await sleep(3_000);
for (const node of cluster.nodes) {
  const started = performance.now();
  await node.stop();
  await node.start();
  await waitFor(`node ${node.nodeId} back in every ISR`, inSync, { timeoutMs: 120_000 });
  console.log(`node ${node.nodeId} restarted, back in every ISR in ${Math.round(performance.now() - started)} ms`);
}
await sleep(2_000);
running = false;
await Promise.all(lanes);

const seen = new Set<string>();
const consumer = kafka.consumer({ groupId: `rolling-restart-${Date.now()}`, readUncommitted: true });
await consumer.connect();
await consumer.subscribe({ topic, fromBeginning: true });
await consumer.run({
  eachMessage: async ({ message }) => {
    seen.add(message.value?.toString() ?? "");
  },
});
await waitFor("every acknowledged value read", async () => seen.size >= acked.size, { timeoutMs: 60_000 }).catch(() => {});
await consumer.disconnect();
const missing = [...acked].filter((value) => !seen.has(value));
console.log(
  `--send ${values.send}: acknowledged ${acked.size}, refused ${failed}, read ${seen.size}, missing ${missing.length} ${missing.slice(0, 5).join(" ")}`,
);
for (const node of cluster.nodes) node.kill();
await sleep(300);
rmSync(dir, { recursive: true, force: true });
process.exit(missing.length === 0 ? 0 : 1);
