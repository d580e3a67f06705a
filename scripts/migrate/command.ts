/**
 * npm run migrate [-- --no-topics]
 * Prepares a database and a Kafka cluster for the functions, without starting anything: applies drizzle/'s
 * SQL migrations to DATABASE_URL (with DATABASE_USER/DATABASE_PASSWORD or DATABASE_SECRET_ARN's user put into it,
 * as the functions do) and creates the transactions and dead-letter topics where missing (TOPIC_PARTITIONS,
 * replication from KAFKA_REPLICATION_FACTOR/KAFKA_MIN_INSYNC_REPLICAS or the cluster's size; KAFKA_SSL and
 * KAFKA_SASL_* as configured). For a deployed stage, run it from a host inside the VPC (docs/deploy.md).
 */
import { config, withCredentials } from "../../lib/config.js";
import { migrateDatabase } from "../../lib/db/client.js";
import { ensureTopics, topicReplication } from "../../lib/kafka/admin.js";
import { kafka } from "../../lib/kafka/client.js";
import { secrets } from "../../lib/secrets.js";
import { cliCommand, parseOrExit } from "../cli/args.js";
import { runMain } from "../cli/run.js";

const program = parseOrExit(
  cliCommand(
    "npm run migrate --",
    "Applies the database migrations (drizzle/) to DATABASE_URL and creates the project's Kafka topics where missing, with the configured partitions and replication: what a deployed stage needs before its first request.",
  ).option("--no-topics", "only the database migrations"),
);
const { topics } = program.opts();

runMain("migrate", async () => {
  const database = new URL(config.DATABASE_URL);
  // With DATABASE_SECRET_ARN, the secret's user and password (read with the caller's AWS credentials), as the functions do.
  const secret = config.DATABASE_SECRET_ARN ? await secrets.credentials(config.DATABASE_SECRET_ARN) : undefined;
  await migrateDatabase(secret ? withCredentials(config.DATABASE_URL, secret.username, secret.password) : config.DATABASE_URL);
  console.log(
    `migrate: database ${database.protocol}//${database.host}${database.pathname} is up to date (no credentials shown)`,
  );
  if (!topics) return 0;
  const wanted = [config.TRANSACTIONS_TOPIC, config.DEAD_LETTER_TOPIC];
  const created = await ensureTopics(wanted);
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { replicationFactor, minInsyncReplicas } = await topicReplication(admin);
    console.log(
      `migrate: topics ${wanted.join(", ")} on ${config.KAFKA_BROKERS.join(",")}: ${created.length ? `created ${created.join(", ")}` : "all there"} ` +
        `(new ones: ${config.TOPIC_PARTITIONS} partitions, replication ${replicationFactor}, min.insync.replicas ${minInsyncReplicas})`,
    );
  } finally {
    await admin.disconnect();
  }
  return 0;
});
