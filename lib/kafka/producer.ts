import { CompressionTypes, type Message, Partitioners, type Producer } from "kafkajs";
import { TimeoutError, TransactionLogUnavailableError } from "../errors.js";
import { withTimeout } from "../timeout.js";
import { kafka } from "./client.js";

/** The budget for one produce, connect included: the API must answer 503 rather than hang. */
export const PRODUCE_TIMEOUT_MS = 4_000;

let producer: Producer | undefined;
let connecting: Promise<Producer> | undefined;

/**
 * The one producer of this process: connected on first use and reused across warm invocations.
 * Idempotent with acks=all, so a retried send is not written twice and an ack means the broker has it.
 */
function connectedProducer(): Promise<Producer> {
  if (producer) return Promise.resolve(producer);
  connecting ??= (async () => {
    const created = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // Murmur2 on the key, as the Java client partitions: nameOrig -> one partition, in order.
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    created.on(created.events.DISCONNECT, () => {
      if (producer === created) producer = undefined;
    });
    try {
      await created.connect();
      producer = created;
      return created;
    } finally {
      connecting = undefined;
    }
  })();
  return connecting;
}

/** A caller's messages waiting for the next send to their topic. */
interface PendingSend {
  messages: Message[];
  bytes: number;
  /** Set when the caller stopped waiting (timeout): its messages are not sent after all. */
  abandoned: boolean;
  settle: (error?: unknown) => void;
}

/** Upper bounds for one coalesced send, well below the broker's default 1 MB record batch limit. */
const MAX_MESSAGES_PER_SEND = 2_000;
const MAX_BYTES_PER_SEND = 512 * 1024;

const pendingByTopic = new Map<string, { queue: PendingSend[]; sending: boolean }>();

const sizeOf = (messages: Message[]) =>
  messages.reduce((sum, { key, value }) => sum + (key?.length ?? 0) + (value?.length ?? 0), 0);

/**
 * The idempotent producer allows one request in flight per broker, so one send per HTTP request
 * serialises every request behind the previous round trip. Instead, whatever callers queue while a
 * send is in flight goes out together in the next one; each caller still resolves only when the
 * send holding its messages was acknowledged. Measured (bench/experiments/produce-paths.ts, 50
 * concurrent callers): 4.2k -> 46k acks/s.
 */
async function sendPending(topic: string): Promise<void> {
  const pending = pendingByTopic.get(topic);
  if (!pending || pending.sending) return;
  const batch: PendingSend[] = [];
  let count = 0;
  let bytes = 0;
  while (pending.queue.length) {
    const next = pending.queue[0] as PendingSend;
    if (next.abandoned) {
      pending.queue.shift();
      continue;
    }
    if (batch.length && (count + next.messages.length > MAX_MESSAGES_PER_SEND || bytes + next.bytes > MAX_BYTES_PER_SEND)) break;
    pending.queue.shift();
    batch.push(next);
    count += next.messages.length;
    bytes += next.bytes;
  }
  if (!batch.length) return;
  pending.sending = true;
  try {
    const connected = await connectedProducer();
    await connected.send({ topic, messages: batch.flatMap((one) => one.messages), acks: -1, compression: CompressionTypes.None });
    for (const one of batch) one.settle();
  } catch (error) {
    for (const one of batch) one.settle(error);
  } finally {
    pending.sending = false;
    void sendPending(topic);
  }
}

/**
 * Produces messages to `topic` and resolves only once the broker acknowledged all of them (acks=all).
 * Any failure or a slow broker becomes TransactionLogUnavailableError.
 */
export async function produce(topic: string, messages: Message[]): Promise<void> {
  let pending = pendingByTopic.get(topic);
  if (!pending) {
    pending = { queue: [], sending: false };
    pendingByTopic.set(topic, pending);
  }
  let entry: PendingSend | undefined;
  const acknowledged = new Promise<void>((resolve, reject) => {
    entry = { messages, bytes: sizeOf(messages), abandoned: false, settle: (error) => (error ? reject(error) : resolve()) };
  });
  const queued = entry as PendingSend;
  pending.queue.push(queued);
  void sendPending(topic);
  try {
    await withTimeout(acknowledged, PRODUCE_TIMEOUT_MS, "producing to Kafka");
  } catch (error) {
    // Still queued: never send it. Already in a send: the broker may yet store it (at least once).
    queued.abandoned = true;
    const reason = error instanceof TimeoutError ? error.message : `Kafka did not acknowledge: ${(error as Error).message}`;
    throw new TransactionLogUnavailableError(reason, { cause: error });
  }
}

/** Disconnects this process's producer (a later produce connects again). */
export async function disconnectProducer(): Promise<void> {
  const current = producer;
  producer = undefined;
  await current?.disconnect();
}
