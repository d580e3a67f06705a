import { Kafka, logLevel } from "kafkajs";
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

/**
 * A transaction begun right after the previous one's commit is refused for the few ms its commit markers
 * take (CONCURRENT_TRANSACTIONS); KafkaJS retries it and logs two errors each time. Routine: debug.
 */
const CONCURRENT_TRANSACTION = "another concurrent operation on the same transaction";
const isRoutine = (message: string, extra: Record<string, unknown>) =>
  message.includes(CONCURRENT_TRANSACTION) || String(extra.error ?? "").includes(CONCURRENT_TRANSACTION);

/** The one Kafka client of this process; the producer, the admins and the local trigger's consumers come from it. */
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
      const pinoLevel = isRoutine(message, extra) ? "debug" : (toPino[level as keyof typeof toPino] ?? "info");
      if (pinoLevel !== "silent") kafkaLog[pinoLevel](extra, message);
    },
});
