import { Kafka, type KafkaConfig, logLevel } from "kafkajs";
import { fixKafkaJsRequestQueue } from "../../lib/kafka/kafkajs-request-queue-fix.js";

/** TLS and SASL for a probe of a listener that wants them (kafkajs's own options). */
export type ClientSecurity = Pick<KafkaConfig, "ssl" | "sasl">;

/** True when a broker at `brokers` answers a Metadata request. */
export async function kafkaAnswers(brokers: string[], timeoutMs = 2_000, security: ClientSecurity = {}): Promise<boolean> {
  return (await kafkaBrokerCount(brokers, timeoutMs, security)) > 0;
}

/** How many brokers the cluster at `brokers` has (its Metadata answer), 0 when it does not answer. */
export async function kafkaBrokerCount(brokers: string[], timeoutMs = 2_000, security: ClientSecurity = {}): Promise<number> {
  // infra:up probes with KafkaJS before (or without) anything creating lib/kafka/client.ts's client.
  fixKafkaJsRequestQueue();
  const admin = new Kafka({
    ...security,
    clientId: "txlog-infra-probe",
    brokers,
    connectionTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
  }).admin();
  try {
    await admin.connect();
    return (await admin.describeCluster()).brokers.length;
  } catch {
    return 0;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}
