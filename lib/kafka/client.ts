import { CompressionTypes, Kafka, logLevel, type Message, type Producer, type RecordMetadata } from "kafkajs";
import { config } from "../config.js";
import { logger } from "../logger.js";

const kafkaLog = logger.child({ component: "kafkajs" });

/** KafkaJS's log lines, routed into our structured logger. */
const toPino = {
  [logLevel.ERROR]: "error",
  [logLevel.WARN]: "warn",
  [logLevel.INFO]: "info",
  [logLevel.DEBUG]: "debug",
  [logLevel.NOTHING]: "silent",
} as const;

/** The one Kafka client of this process; producers, consumers and admins all come from it. */
export const kafka = new Kafka({
  clientId: config.KAFKA_CLIENT_ID,
  brokers: config.KAFKA_BROKERS,
  connectionTimeout: 2_000,
  requestTimeout: 10_000,
  retry: { initialRetryTime: 100, retries: 5, maxRetryTime: 2_000 },
  logLevel: logLevel.WARN,
  logCreator:
    () =>
    ({ level, log }) => {
      const { message, ...extra } = log;
      const pinoLevel = toPino[level as keyof typeof toPino] ?? "info";
      if (pinoLevel !== "silent") kafkaLog[pinoLevel](extra, message);
    },
});

export class BrokerUnavailableError extends Error {
  override name = "BrokerUnavailableError";
}

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
    const created = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
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

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BrokerUnavailableError(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Produces messages to `topic` and resolves only once the broker acknowledged all of them (acks=all).
 * Any failure or a slow broker becomes BrokerUnavailableError.
 */
export async function produce(topic: string, messages: Message[]): Promise<RecordMetadata[]> {
  try {
    return await withTimeout(
      (async () => {
        const connected = await connectedProducer();
        return connected.send({ topic, messages, acks: -1, compression: CompressionTypes.None });
      })(),
      PRODUCE_TIMEOUT_MS,
      "producing to Kafka",
    );
  } catch (error) {
    if (error instanceof BrokerUnavailableError) throw error;
    throw new BrokerUnavailableError(`Kafka did not acknowledge: ${(error as Error).message}`, { cause: error });
  }
}

export async function disconnectProducer(): Promise<void> {
  const current = producer;
  producer = undefined;
  await current?.disconnect();
}

/** Creates each topic that is missing, with the configured partition count. Returns the ones it created. */
export async function ensureTopics(topics: string[], partitions = config.TOPIC_PARTITIONS): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((topic) => !existing.has(topic));
    if (missing.length) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 })),
      });
    }
    return missing;
  } finally {
    await admin.disconnect();
  }
}
