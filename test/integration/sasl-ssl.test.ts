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
import { freePort, kafkaAnswers, NativeKafkaBroker } from "../../scripts/infra/index.js";
import { eventually, REPO_ROOT, spawnWorker, stopWorker, storedCounts, type WorkerProcess } from "../support/fault-infra.js";
import { acceptedIds, postMany } from "../support/fault-load.js";
import { tally } from "../support/fault-results.js";
import { uniqueName } from "../support/kafka.js";
import { type OfflineServer, startOffline } from "../support/offline.js";
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
});
