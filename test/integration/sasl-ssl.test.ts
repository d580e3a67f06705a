import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Kafka, logLevel } from "kafkajs";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../lib/config.js";
import { ensureTopics } from "../../lib/kafka/admin.js";
import { kafkaSecurity } from "../../lib/kafka/client.js";
import { createSecretReader } from "../../lib/secrets.js";
import { freePort, kafkaAnswers, NativeKafkaBroker } from "../../scripts/infra/index.js";
import { eventually, REPO_ROOT, spawnWorker, stopWorker, storedCounts, type WorkerProcess } from "../support/fault-infra.js";
import { acceptedIds, postMany } from "../support/fault-load.js";
import { tally } from "../support/fault-results.js";
import { uniqueName } from "../support/kafka.js";
import { type OfflineServer, startOffline } from "../support/offline.js";
import { FakeSecretsManager } from "../support/secrets-manager.js";
import { makeThrowawayPki, type ThrowawayPki } from "../support/tls.js";

/**
 * The production path to MSK, here: the native broker with a SASL_SSL listener only (TLS with a throwaway
 * CA, SASL/SCRAM-SHA-512 users written at format time, as KRaft does it), and the app configured the way a
 * deployed stage is (KAFKA_SSL, KAFKA_SASL_*): POST -> Kafka -> worker -> PostgreSQL through it.
 */
const dir = mkdtempSync(join(tmpdir(), "txlog-sasl-ssl-"));
chmodSync(dir, 0o755);
const app = { name: "txlog-app", password: randomBytes(16).toString("hex") };
const topic = uniqueName("test.sasl-ssl");
const group = uniqueName("test.sasl-ssl-group");
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
let pki: ThrowawayPki;
let broker: NativeKafkaBroker;
let env: Record<string, string>;
let server: OfflineServer | undefined;
let worker: WorkerProcess | undefined;

const quietKafka = (options: ConstructorParameters<typeof Kafka>[0]) =>
  new Kafka({ ...options, logLevel: logLevel.NOTHING, retry: { retries: 1 } });

beforeAll(async () => {
  pki = makeThrowawayPki(dir);
  const port = await freePort();
  env = {
    KAFKA_BROKERS: `127.0.0.1:${port}`,
    KAFKA_SSL: "true",
    KAFKA_SSL_CA: pki.caPem,
    KAFKA_SASL_MECHANISM: "scram-sha-512",
    KAFKA_SASL_USERNAME: app.name,
    KAFKA_SASL_PASSWORD: app.password,
    TRANSACTIONS_TOPIC: topic,
    DEAD_LETTER_TOPIC: `${topic}.dead-letter`,
  };
  broker = new NativeKafkaBroker({
    dir: join(dir, "broker"),
    cacheDir: resolve(REPO_ROOT, ".cache"),
    port,
    controllerPort: await freePort(),
    heapMb: 256,
    saslSsl: {
      keystore: pki.keystore,
      password: pki.password,
      truststorePem: pki.caFile,
      mechanism: "SCRAM-SHA-512",
      // The brokers' own user first, then the application's.
      users: [{ name: "broker", password: randomBytes(16).toString("hex") }, app],
    },
    probeSecurity: kafkaSecurity(loadConfig(env)),
  });
  await broker.start();
}, 180_000);

afterAll(async () => {
  if (worker) await stopWorker(worker);
  await server?.stop();
  broker?.kill();
  await sleep(200);
  rmSync(dir, { recursive: true, force: true });
  await pool.end();
});

describe("Kafka over SASL_SSL (TLS + SCRAM-SHA-512), as on MSK", () => {
  it("refuses clients without TLS, with an untrusted CA, or with a wrong password; lets the configured one in", async () => {
    const brokers = env.KAFKA_BROKERS?.split(",") ?? [];
    const configured = kafkaSecurity(loadConfig(env));
    expect(configured).toMatchObject({ ssl: { ca: [pki.caPem] }, sasl: { mechanism: "scram-sha-512", username: app.name } });
    expect(await kafkaAnswers(brokers, 3_000)).toBe(false);
    expect(await kafkaAnswers(brokers, 3_000, { ...configured, ssl: true })).toBe(false);
    expect(
      await kafkaAnswers(brokers, 3_000, {
        ...configured,
        sasl: { mechanism: "scram-sha-512", username: app.name, password: "wrong" },
      }),
    ).toBe(false);
    expect(await kafkaAnswers(brokers, 3_000, configured)).toBe(true);
  });

  it("POST /transaction -> Kafka (SASL_SSL) -> npm run worker -> PostgreSQL: every 202 stored once", async () => {
    const kafka = quietKafka({
      clientId: "txlog-tests",
      brokers: env.KAFKA_BROKERS?.split(",") ?? [],
      ...kafkaSecurity(loadConfig(env)),
    });
    expect(await ensureTopics([topic, `${topic}.dead-letter`], { kafka })).toEqual([topic, `${topic}.dead-letter`]);
    server = await startOffline({ env: { ...env, OFFLINE_KAFKA_ENABLED: "false" } });
    worker = spawnWorker({ topic, group, env });

    const results = await postMany(server, 60, 6);
    expect(results.map((result) => result.status)).toEqual(Array(60).fill(202));
    const health = await fetch(`${server.baseUrl}/health`);
    expect(((await health.json()) as { checks: { kafka: { status: string } } }).checks.kafka.status).toBe("up");

    const accepted = acceptedIds(results);
    await eventually(
      "every accepted transaction stored",
      async () => (await storedCounts(pool, topic)).size,
      (stored) => stored >= accepted.length,
      60_000,
    );
    expect(tally(accepted, await storedCounts(pool, topic))).toEqual({ stored: 60, lost: 0, duplicated: 0 });
    expect(await stopWorker(worker)).toBe(0);
    worker = undefined;
  }, 180_000);

  it("logs in as the user of the SCRAM secret (KAFKA_SASL_SECRET_ARN), read from Secrets Manager once for every connection", async () => {
    // Secrets Manager's stand-in (the AWS SDK's own endpoint setting points it there); the broker is the real one.
    const secretsManager = new FakeSecretsManager();
    const saved = { ...process.env };
    process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = await secretsManager.start();
    process.env.AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE";
    process.env.AWS_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    try {
      const secretArn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:AmazonMSK_txlog-test-Ab12Cd";
      const { KAFKA_SASL_USERNAME: _user, KAFKA_SASL_PASSWORD: _password, ...withoutCredentials } = env;
      const settings = loadConfig({ ...withoutCredentials, KAFKA_SASL_SECRET_ARN: secretArn });
      const brokers = settings.KAFKA_BROKERS;
      let secret = { username: app.name, password: "rotated-away" };
      secretsManager.answers.set(secretArn, () => ({ secretString: JSON.stringify(secret) }));
      const reader = createSecretReader();
      const security = kafkaSecurity(settings, reader);

      // A refused login forgets what was read: the next one reads the secret again (a rotation).
      expect(await kafkaAnswers(brokers, 3_000, security)).toBe(false);
      secret = { username: app.name, password: app.password };
      expect(await kafkaAnswers(brokers, 3_000, security)).toBe(true);
      const readsBefore = secretsManager.requests.length;
      expect(readsBefore).toBeGreaterThanOrEqual(2);

      // An admin and a producer of one client: several connections, no further read.
      const kafka = quietKafka({ clientId: "txlog-tests", brokers, ...security });
      const own = `${topic}.from-secret`;
      expect(await ensureTopics([own], { kafka })).toEqual([own]);
      const producer = kafka.producer();
      await producer.connect();
      try {
        const [sent] = await producer.send({ topic: own, messages: [{ value: "from the secret's user" }] });
        expect(sent?.errorCode).toBe(0);
      } finally {
        await producer.disconnect();
      }
      expect(await kafkaAnswers(brokers, 3_000, security)).toBe(true);
      expect(secretsManager.requests.length).toBe(readsBefore);
      expect(secretsManager.requests.every((request) => request.secretId === secretArn)).toBe(true);
    } finally {
      process.env = saved;
      await secretsManager.stop();
    }
  }, 60_000);
});
