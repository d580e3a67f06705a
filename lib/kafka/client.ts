import { Kafka, type KafkaConfig, logLevel, type Mechanism, type SASLOptions } from "kafkajs";
import scram256 from "kafkajs/src/broker/saslAuthenticator/scram256.js";
import scram512 from "kafkajs/src/broker/saslAuthenticator/scram512.js";
import { type Config, config } from "../config.js";
import { logger } from "../logger.js";
import { type SecretReader, secrets } from "../secrets.js";
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
  | "KAFKA_SSL"
  | "KAFKA_SSL_CA"
  | "KAFKA_SASL_MECHANISM"
  | "KAFKA_SASL_USERNAME"
  | "KAFKA_SASL_PASSWORD"
  | "KAFKA_SASL_SECRET_ARN"
  | "AWS_REGION"
>;

/**
 * SCRAM with the user and password of a Secrets Manager secret, read at the first login (once per process,
 * `reader` caches it) and handed to KafkaJS's own SCRAM exchange. A refused login makes the next one read the
 * secret again (it may have been rotated).
 */
export function scramFromSecret(
  mechanism: "scram-sha-256" | "scram-sha-512",
  secretArn: string,
  reader: SecretReader = secrets,
): Mechanism {
  const provider = mechanism === "scram-sha-256" ? scram256 : scram512;
  return {
    mechanism,
    authenticationProvider: (args) => ({
      authenticate: async () => {
        const { username, password } = await reader.credentials(secretArn);
        try {
          await provider({ mechanism, username, password })(args).authenticate();
        } catch (error) {
          reader.forget(secretArn);
          throw error;
        }
      },
    }),
  };
}

/**
 * TLS and SASL from configuration (validated there: SASL only over TLS, SCRAM with a user or a secret, IAM
 * with a region). MSK IAM is SASL OAUTHBEARER with a token AWS's signer makes from the default credential
 * chain (in Lambda: the function's role), loaded only when configured; KafkaJS asks for a new token on every
 * (re)authentication.
 */
export function kafkaSecurity(settings: SecurityConfig, reader?: SecretReader): Pick<KafkaConfig, "ssl" | "sasl"> {
  const ssl = settings.KAFKA_SSL ? (settings.KAFKA_SSL_CA ? { ca: [settings.KAFKA_SSL_CA] } : true) : undefined;
  const sasl = ((): SASLOptions | Mechanism | undefined => {
    const { KAFKA_SASL_USERNAME: username = "", KAFKA_SASL_PASSWORD: password = "" } = settings;
    const mechanism = settings.KAFKA_SASL_MECHANISM;
    if (settings.KAFKA_SASL_SECRET_ARN && (mechanism === "scram-sha-256" || mechanism === "scram-sha-512")) {
      return scramFromSecret(mechanism, settings.KAFKA_SASL_SECRET_ARN, reader);
    }
    switch (mechanism) {
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
