import { loadConfig } from "../../lib/config.js";
import { migrateDatabase } from "../../lib/db/client.js";
import {
  applyRecordedInfra,
  ensureDatabase,
  infraUp,
  kafkaAnswers,
  stopNativeKafka,
  withDatabase,
} from "../../scripts/infra/index.js";
import { ensureChromium } from "./chromium.js";

/**
 * Brings up the real broker and database when they are not reachable, and points every test process
 * (they inherit this environment) at a database and topics of their own, so `npm test` never touches
 * the data of `npm start`.
 */
let startedBroker = false;

export async function setup(): Promise<void> {
  // What infra:up recorded (a private PostgreSQL, a native cluster), unless the environment names them.
  applyRecordedInfra();
  ensureChromium((message) => console.log(`[test infra] ${message}`));
  const base = loadConfig();
  const brokerWasUp = await kafkaAnswers(base.KAFKA_BROKERS);
  await infraUp(base, (message) => console.log(`[test infra] ${message}`));
  startedBroker = !brokerWasUp;
  // Re-read: infra:up may have recorded the URL of a private PostgreSQL it started.
  applyRecordedInfra();
  // TEST_DATABASE_NAME: a second checkout (or a helper) running tests beside this one uses its own database.
  const testDatabaseUrl = withDatabase(loadConfig().DATABASE_URL, process.env.TEST_DATABASE_NAME ?? "txlog_test");
  process.env.DATABASE_URL = testDatabaseUrl;
  process.env.TRANSACTIONS_TOPIC ??= "test.transactions";
  process.env.DEAD_LETTER_TOPIC ??= "test.transactions.dead-letter";
  process.env.CONSUMER_GROUP_ID ??= "test.txlog-consume";
  process.env.LOG_LEVEL ??= "warn";
  await ensureDatabase(testDatabaseUrl);
  await migrateDatabase(testDatabaseUrl);
}

export async function teardown(): Promise<void> {
  // Leave the machine as we found it: stop the broker only if this run started it.
  if (startedBroker) await stopNativeKafka(loadConfig());
}
