import { Kafka, type KafkaConfig, logLevel, type SASLOptions } from "kafkajs";
import { type Config, config } from "../config.js";
import { logger } from "../logger.js";
import { fixKafkaJsRequestQueue } from "./kafkajs-request-queue-fix.js";

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

type SecurityConfig = Pick<
  Config,
  "KAFKA_SSL" | "KAFKA_SSL_CA" | "KAFKA_SASL_MECHANISM" | "KAFKA_SASL_USERNAME" | "KAFKA_SASL_PASSWORD" | "AWS_REGION"
>;

/**
 * TLS and SASL from configuration (validated there: SASL only over TLS, SCRAM with a user, IAM with a region).
 * MSK IAM is SASL OAUTHBEARER with a token AWS's signer makes from the default credential chain (in Lambda:
 * the function's role), loaded only when configured; KafkaJS asks for a new token on every (re)authentication.
 */
export function kafkaSecurity(settings: SecurityConfig): Pick<KafkaConfig, "ssl" | "sasl"> {
  const ssl = settings.KAFKA_SSL ? (settings.KAFKA_SSL_CA ? { ca: [settings.KAFKA_SSL_CA] } : true) : undefined;
  const sasl = ((): SASLOptions | undefined => {
    const { KAFKA_SASL_USERNAME: username = "", KAFKA_SASL_PASSWORD: password = "" } = settings;
    switch (settings.KAFKA_SASL_MECHANISM) {
      case "scram-sha-256":
        return { mechanism: "scram-sha-256", username, password };
      case "scram-sha-512":
        return { mechanism: "scram-sha-512", username, password };
      case "aws-iam": {
        const region = settings.AWS_REGION ?? "";
        return {
          mechanism: "oauthbearer",
          oauthBearerProvider: async () => {
            const { generateAuthToken } = await import("aws-msk-iam-sasl-signer-js");
            return { value: (await generateAuthToken({ region })).token };
          },
        };
      }
      default:
        return undefined;
    }
  })();
  return { ...(ssl ? { ssl } : {}), ...(sasl ? { sasl } : {}) };
}

// Before any connection: every client of this process (and of a bundle carrying lib/) shares the fixed queue.
fixKafkaJsRequestQueue();

/** The one Kafka client of this process; the producer, the admins and the local trigger's consumers come from it. */
export const kafka = new Kafka({
  clientId: config.KAFKA_CLIENT_ID,
  brokers: config.KAFKA_BROKERS,
  ...kafkaSecurity(config),
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
