import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { migrateDatabase } from "../../lib/db/client.js";
import { ensureTopics } from "../../lib/kafka/admin.js";
import { freePort, withDatabase } from "../../scripts/infra/index.js";
import { readTopic, testKafka, uniqueName } from "../support/kafka.js";

const run = promisify(execFile);

async function consumeAll(brokers: string[], topic: string, expected: number): Promise<string[]> {
  const messages = await readTopic(testKafka(brokers), topic, (read) => read.length >= expected);
  return messages.map((message) => message.value?.toString() ?? "");
}

describe("the real Kafka broker", () => {
  it("creates a topic with the configured 3 partitions", async () => {
    const topic = uniqueName("test.partitions");
    expect(await ensureTopics([topic])).toEqual([topic]);
    expect(await ensureTopics([topic])).toEqual([]);
    const admin = testKafka().admin();
    await admin.connect();
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    await admin.disconnect();
    expect(metadata.topics[0]?.partitions).toHaveLength(3);
  });

  it("round-trips messages through a produce and a consumer group", async () => {
    const topic = uniqueName("test.roundtrip");
    await ensureTopics([topic]);
    const producer = testKafka().producer();
    await producer.connect();
    const sent = Array.from({ length: 20 }, (_, index) => `message-${index}`);
    await producer.send({ topic, acks: -1, messages: sent.map((value, index) => ({ key: `k${index}`, value })) });
    await producer.disconnect();
    expect((await consumeAll((process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(","), topic, sent.length)).sort()).toEqual(
      [...sent].sort(),
    );
  });
});

describe("infra:down + infra:up", () => {
  const cacheDir = mkdtempSync(join(tmpdir(), "txlog-infra-"));
  let env: NodeJS.ProcessEnv;
  const infra = (command: string) => run("npx", ["tsx", "scripts/infra.ts", command], { env, timeout: 170_000 });

  afterAll(async () => {
    await infra("down").catch(() => {});
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it("keeps a produced message across a broker restart", async () => {
    const port = await freePort();
    const controllerPort = await freePort();
    env = {
      ...process.env,
      INFRA_CACHE_DIR: cacheDir,
      KAFKA_BROKERS: `127.0.0.1:${port}`,
      KAFKA_CONTROLLER_PORT: String(controllerPort),
    };
    const brokers = [`127.0.0.1:${port}`];
    const { stdout } = await infra("up");
    const running = new RegExp(`kafka\\s+up\\s+127\\.0\\.0\\.1:${port}\\s+\\(native broker, pid (\\d+)\\)`);
    const pid = running.exec(stdout)?.[1];
    expect(pid).toBeDefined();
    // A second up finds the broker answering and starts nothing.
    const again = await infra("up");
    expect(running.exec(again.stdout)?.[1]).toBe(pid);
    expect(again.stdout).not.toMatch(/starting Apache Kafka/);

    const topic = "test.durable";
    const producer = testKafka(brokers).producer();
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ key: "k", value: "survives a restart" }] });
    await producer.disconnect();

    await infra("down");
    const down = await infra("status");
    expect(down.stdout).toMatch(/kafka\s+DOWN/);
    await infra("up");

    expect(await consumeAll(brokers, topic, 1)).toEqual(["survives a restart"]);
  });
});

describe("drizzle migrations", () => {
  it("apply to an empty database and create the tables", async () => {
    const url = withDatabase(process.env.DATABASE_URL ?? "", uniqueName("txlog_empty").replace(".", "_"));
    const database = new URL(url).pathname.slice(1);
    const admin = new pg.Client({ connectionString: withDatabase(url, "postgres") });
    await admin.connect();
    await admin.query(`create database "${database}"`);
    try {
      await migrateDatabase(url);
      await migrateDatabase(url); // a second run applies nothing and does not fail
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const { rows } = await client.query<{ table_name: string }>(
        "select table_name from information_schema.tables where table_schema = 'public' order by table_name",
      );
      const amount = await client.query<{ numeric_precision: number; numeric_scale: number }>(
        "select numeric_precision, numeric_scale from information_schema.columns where table_name = 'transactions' and column_name = 'amount'",
      );
      await client.end();
      expect(rows.map((row) => row.table_name)).toEqual(["dead_letters", "transactions"]);
      expect(amount.rows[0]).toEqual({ numeric_precision: 18, numeric_scale: 2 });
    } finally {
      await admin.query(`drop database "${database}" with (force)`);
      await admin.end();
    }
  });
});

describe("infra:up without Docker, Java or Maven", () => {
  it("says what to install and exits 1 without a stack trace", async () => {
    // A PATH holding only node: no docker, java or mvn to find.
    const binDir = mkdtempSync(join(tmpdir(), "txlog-path-"));
    symlinkSync(process.execPath, join(binDir, "node"));
    const closedPort = await freePort();
    const env = { ...process.env, PATH: binDir, KAFKA_BROKERS: `127.0.0.1:${closedPort}`, INFRA_CACHE_DIR: binDir };
    const failure = await run(process.execPath, ["node_modules/tsx/dist/cli.mjs", "scripts/infra.ts", "up"], { env }).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    rmSync(binDir, { recursive: true, force: true });
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toMatch(/install either a Docker engine .* or JDK 17\+ and Maven/);
    expect(failure?.stderr).toMatch(/Missing: java, mvn/);
    expect(failure?.stderr).not.toMatch(/\n\s+at /);
  });
});

describe("infra:up where no PostgreSQL answers", () => {
  it("starts a private cluster, creates the database, and infra:down stops it", async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), "txlog-pg-"));
    chmodSync(cacheDir, 0o755); // the postgres system user runs the cluster and must reach its directory
    const port = await freePort();
    const env = {
      ...process.env,
      INFRA_CACHE_DIR: cacheDir,
      DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/txlog_private`,
    };
    const infra = (command: string) => run("npx", ["tsx", "scripts/infra.ts", command], { env, timeout: 120_000 });
    try {
      const up = await infra("up");
      expect(up.stdout).toMatch(
        new RegExp(`postgres\\s+up\\s+postgres://postgres@127\\.0\\.0\\.1:${port}/txlog_private\\s+\\(private cluster`),
      );
      const client = new pg.Client({ connectionString: env.DATABASE_URL });
      await client.connect();
      const { rows } = await client.query<{ db: string }>("select current_database() as db");
      await client.end();
      expect(rows[0]?.db).toBe("txlog_private");
      await infra("down");
      expect((await infra("status")).stdout).toMatch(/postgres\s+DOWN/);
    } finally {
      await infra("down").catch(() => {});
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });
});
