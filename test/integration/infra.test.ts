import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { migrateDatabase } from "../../lib/db/client.js";
import { ensureTopics, TopicReplicationError } from "../../lib/kafka/admin.js";
import { freePort, isAlive, KAFKA_VERSION, loadInfraSettings, withDatabase } from "../../scripts/infra/index.js";
import { replicationOf } from "../support/fault-cluster.js";
import { REPO_ROOT } from "../support/fault-infra.js";
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

  it("refuses a replication factor the cluster cannot hold once brokers had 10 s to show, creating nothing", async () => {
    const topic = uniqueName("test.too-many-replicas");
    const admin = testKafka().admin();
    await admin.connect();
    // One more than the cluster has (1 by default; KAFKA_BROKER_COUNT=3 runs the suite on three).
    const brokers = (await admin.describeCluster()).brokers.length;
    const started = performance.now();
    const refused = await ensureTopics([topic], { replicationFactor: brokers + 1 }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(TopicReplicationError);
    expect((refused as Error).message).toBe(
      `replication factor ${brokers + 1} needs at least ${brokers + 1} brokers; the cluster has ${brokers}`,
    );
    expect(performance.now() - started).toBeGreaterThanOrEqual(10_000);
    expect(await admin.listTopics()).not.toContain(topic);
    await admin.disconnect();
  }, 30_000);

  it("round-trips messages through a produce and a consumer group", async () => {
    const topic = uniqueName("test.roundtrip");
    await ensureTopics([topic]);
    // Idempotent, as the app's: a plain producer that retries a request one partition refused (a partition of a
    // topic this new may answer NOT_LEADER for a moment) writes the partitions that took it a second time.
    const producer = testKafka().producer({ idempotent: true, maxInFlightRequests: 1 });
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

describe("infra:up --brokers 3", () => {
  const cacheDir = mkdtempSync(join(tmpdir(), "txlog-infra3-"));
  let env: NodeJS.ProcessEnv = {};
  const infra = (...args: string[]) => run("npx", ["tsx", "scripts/infra.ts", ...args], { env, timeout: 170_000 });

  afterAll(async () => {
    await infra("down").catch(() => {});
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it("starts three KRaft brokers, each with its port, data dir, pid, log and role; topics get 3 copies, min.insync 2; down stops all three", async () => {
    // The jars (and the quorum tool) from the shared cache, when it has them, instead of another Maven copy.
    const shared = join(REPO_ROOT, ".cache/kafka");
    mkdirSync(join(cacheDir, "kafka"), { recursive: true });
    for (const entry of [`libs-${KAFKA_VERSION}`, `tools-${KAFKA_VERSION}`]) {
      if (existsSync(join(shared, entry))) symlinkSync(join(shared, entry), join(cacheDir, "kafka", entry));
    }
    const ports = [await freePort(), await freePort(), await freePort()];
    const controllers = [await freePort(), await freePort(), await freePort()];
    const brokers = ports.map((port) => `127.0.0.1:${port}`);
    env = {
      ...process.env,
      INFRA_CACHE_DIR: cacheDir,
      KAFKA_BROKERS: brokers.join(","),
      KAFKA_CONTROLLER_PORT: controllers.join(","),
    };
    const { stdout } = await infra("up", "--brokers", "3");
    expect(stdout).toContain(`starting 3 Apache Kafka ${KAFKA_VERSION} brokers`);
    const nodes = [1, 2, 3].map((id) => {
      const line = new RegExp(
        `kafka-${id} up\\s+127\\.0\\.0\\.1:${ports[id - 1]}\\s+broker\\+controller \\((active controller|voter)\\), pid (\\d+), (\\S+node-${id})`,
      ).exec(stdout);
      expect(line, stdout).not.toBeNull();
      return { role: line?.[1], pid: Number(line?.[2]), dir: line?.[3] as string };
    });
    expect(nodes.filter((node) => node.role === "active controller")).toHaveLength(1);
    expect(new Set(nodes.map((node) => node.pid)).size).toBe(3);
    for (const node of nodes) {
      expect(isAlive(node.pid)).toBe(true);
      expect(existsSync(join(node.dir, "data", "meta.properties"))).toBe(true);
      expect(existsSync(join(node.dir, "logs", "server.log"))).toBe(true);
    }

    // Later processes find all three without being told (infra-state.json); KAFKA_BROKER_COUNT does what --brokers does.
    const { KAFKA_BROKERS: _explicit, ...unset } = env;
    env = { ...unset, KAFKA_BROKER_COUNT: "3" };
    const again = await infra("up");
    expect(again.stdout).not.toMatch(/starting/);
    const listed = brokers.join(",").replaceAll(".", "\\.");
    expect(again.stdout).toMatch(new RegExp(`kafka\\s+up\\s+${listed}\\s+\\(native cluster of 3`));

    const topic = uniqueName("test.replicated");
    expect(await ensureTopics([topic], { kafka: testKafka(brokers) })).toEqual([topic]);
    const admin = testKafka(brokers).admin();
    await admin.connect();
    try {
      expect(await replicationOf(admin, topic)).toEqual({ replicas: [3, 3, 3], minInsyncReplicas: ["2"] });
    } finally {
      await admin.disconnect();
    }

    await infra("down");
    for (const node of nodes) expect(isAlive(node.pid)).toBe(false);
    // Forgotten: later processes fall back to KAFKA_BROKERS (here the three ports, now closed).
    env = { ...env, KAFKA_BROKERS: brokers.join(",") };
    expect((await infra("status")).stdout).toMatch(/kafka\s+DOWN/);
  }, 300_000);
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
      expect(rows.map((row) => row.table_name)).toEqual(["chain_heads", "dead_letters", "transaction_totals", "transactions"]);
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
      // scram-sha-256 with a generated password, kept owner-only beside the cluster; not in the state file.
      const passwordFile = join(cacheDir, "postgres", "password");
      expect(statSync(passwordFile).mode & 0o777).toBe(0o600);
      const password = readFileSync(passwordFile, "utf8").trim();
      expect(password.length).toBeGreaterThanOrEqual(32);
      expect(readFileSync(join(cacheDir, "infra-state.json"), "utf8")).not.toContain(password);
      expect(up.stdout).not.toContain(password);
      const hba = readFileSync(join(cacheDir, "postgres", "data", "pg_hba.conf"), "utf8");
      expect(hba.split("\n").filter((line) => /^(local|host)/.test(line) && !line.trim().endsWith("scram-sha-256"))).toEqual([]);
      const refused = new pg.Client({ host: "127.0.0.1", port, user: "postgres", database: "txlog_private", password: "wrong" });
      await expect(refused.connect()).rejects.toThrow(/password authentication failed/);
      await refused.end().catch(() => {});

      const url = new URL(env.DATABASE_URL);
      url.password = encodeURIComponent(password);
      const client = new pg.Client({ connectionString: url.toString() });
      await client.connect();
      const { rows } = await client.query<{ db: string }>("select current_database() as db");
      await client.end();
      expect(rows[0]?.db).toBe("txlog_private");
      // Later processes find it: the password-less URL of the recorded cluster gets the password from the file.
      expect(loadInfraSettings(env).DATABASE_URL).toBe(url.toString());
      await infra("down");
      expect((await infra("status")).stdout).toMatch(/postgres\s+DOWN/);
    } finally {
      await infra("down").catch(() => {});
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });
});
