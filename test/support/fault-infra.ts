import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Admin } from "kafkajs";
import pg from "pg";
import { migrateDatabase } from "../../lib/db/client.js";
import { ensureDatabase, freePort, NativeKafkaBroker, PrivatePostgres, withDatabase } from "../../scripts/infra/index.js";

export const REPO_ROOT = resolve(import.meta.dirname, "../..");

/** A temp dir the `postgres` system user can enter (PrivatePostgres runs its tools as that user under root). */
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

export interface FaultPostgres {
  server: PrivatePostgres;
  /** The migrated database's URL. */
  url: string;
  pool: pg.Pool;
  /** Stops the cluster and removes its directory. */
  destroy(): Promise<void>;
}

/** A PostgreSQL cluster of the test's own on a free port (never the machine's shared one), migrated. */
export async function startFaultPostgres(): Promise<FaultPostgres> {
  const dir = tempDir("txlog-fault-pg-");
  const server = new PrivatePostgres({ dir: join(dir, "cluster"), port: await freePort() });
  await server.start();
  const url = withDatabase(server.url, "txlog_fault");
  await ensureDatabase(url);
  await migrateDatabase(url);
  const pool = new pg.Pool({ connectionString: url, max: 2, connectionTimeoutMillis: 2_000 });
  pool.on("error", () => {});
  return {
    server,
    url,
    pool,
    async destroy() {
      await pool.end().catch(() => {});
      await server.stop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface FaultBroker {
  server: NativeKafkaBroker;
  brokers: string[];
  destroy(): Promise<void>;
}

/** A Kafka broker of the test's own on free ports, in a temp dir (the jars come from the shared cache). */
export async function startFaultBroker(): Promise<FaultBroker> {
  const dir = tempDir("txlog-fault-kafka-");
  const server = new NativeKafkaBroker({
    dir,
    cacheDir: resolve(REPO_ROOT, ".cache"),
    port: await freePort(),
    controllerPort: await freePort(),
    partitions: 3,
    heapMb: 256,
  });
  await server.start();
  return {
    server,
    brokers: server.brokers,
    async destroy() {
      server.kill();
      await sleep(200);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A process's structured (pino JSON) log lines among the rest of its output. */
export function parseLogLines<T>(output: string): T[] {
  return output
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as T];
      } catch {
        return [];
      }
    });
}

/** Row counts by id of the rows the consumer stored from `topic`. */
export async function storedCounts(pool: pg.Pool, topic: string): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ id: string; n: number }>(
    "select id::text, count(*)::int as n from transactions where kafka_topic = $1 group by id",
    [topic],
  );
  return new Map(rows.map(({ id, n }) => [id, n]));
}

export async function storedCount(pool: pg.Pool, topic: string): Promise<number> {
  const { rows } = await pool.query("select count(*)::int as n from transactions where kafka_topic = $1", [topic]);
  return rows[0].n;
}

export async function deadLetterCount(pool: pg.Pool, topic: string): Promise<number> {
  const { rows } = await pool.query("select count(*)::int as n from dead_letters where topic = $1", [topic]);
  return rows[0].n;
}

/** Sum over partitions of the group's committed offsets (-1, nothing committed, counts as 0). */
export async function committedTotal(admin: Admin, groupId: string, topic: string): Promise<number> {
  const [result] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return (result?.partitions ?? []).reduce((sum, { offset }) => sum + Math.max(0, Number(offset)), 0);
}

/** The group's committed offset by partition (partitions without a commit left out). */
export async function committedByPartition(admin: Admin, groupId: string, topic: string): Promise<Record<number, number>> {
  const [result] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return Object.fromEntries(
    (result?.partitions ?? [])
      .filter(({ offset }) => Number(offset) >= 0)
      .map(({ partition, offset }) => [partition, Number(offset)]),
  );
}

/** By partition, the offset after the highest one stored from `topic`: what a clean stop must have committed. */
export async function nextOffsetsStored(pool: pg.Pool, topic: string): Promise<Record<number, number>> {
  const { rows } = await pool.query<{ partition: number; next: string }>(
    "select kafka_partition as partition, (max(kafka_offset) + 1)::text as next from transactions where kafka_topic = $1 group by kafka_partition",
    [topic],
  );
  return Object.fromEntries(rows.map(({ partition, next }) => [partition, Number(next)]));
}

/**
 * Whether `group` committed `topic` to the end of what is stored: each partition at least to the offset
 * after its last stored row, and not past the partition's end. Not "committed = end offset": the API
 * produces in Kafka transactions, whose commit markers take offsets after the last record and are
 * never delivered, so a consumer commits the offset after the last record it got.
 */
export async function committedThroughStored(admin: Admin, pool: pg.Pool, groupId: string, topic: string): Promise<boolean> {
  const [committed, stored, ends] = await Promise.all([
    committedByPartition(admin, groupId, topic),
    nextOffsetsStored(pool, topic),
    admin.fetchTopicOffsets(topic),
  ]);
  const end = Object.fromEntries(ends.map(({ partition, high }) => [partition, Number(high)]));
  return Object.entries(stored).every(([partition, next]) => {
    const offset = committed[Number(partition)] ?? 0;
    return offset >= next && offset <= (end[Number(partition)] ?? 0);
  });
}

/** Sum over partitions of the topic's end offsets: every offset ever taken (records and transaction markers). */
export async function endOffsetTotal(admin: Admin, topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, { high }) => sum + Number(high), 0);
}

export async function eventually<T>(
  what: string,
  probe: () => Promise<T>,
  accept: (value: T) => boolean,
  timeoutMs = 60_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    try {
      last = await probe();
      if (accept(last)) return last;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    if (Date.now() > deadline) throw new Error(`${what}: timed out after ${timeoutMs} ms; last value ${JSON.stringify(last)}`);
    await sleep(intervalMs);
  }
}

/** Until `group` is Stable with `members` members (a worker spawned has joined, or one left); returns the wait in ms. */
export async function groupStable(admin: Admin, group: string, members: number, timeoutMs = 60_000): Promise<number> {
  const started = performance.now();
  await eventually(
    `the group Stable with ${members} member${members === 1 ? "" : "s"}`,
    async () => (await admin.describeGroups([group])).groups[0],
    (description) => description?.state === "Stable" && description.members.length === members,
    timeoutMs,
    50,
  );
  return performance.now() - started;
}

interface LogLine {
  time?: number;
  msg?: string;
  duplicates?: number;
  inserted?: number;
  deadLettered?: number;
  [key: string]: unknown;
}

export interface WorkerProcess {
  child: ChildProcess;
  pid: number;
  /** Resolves with the exit code (null after a signal). */
  exited: Promise<number | null>;
  output(): string;
  /** The worker's pino lines so far, parsed. */
  logs(): LogLine[];
  /** Sum of `duplicates` over its "batch persisted" lines: records it was handed after they were stored. */
  redelivered(): number;
  /** Epoch ms of its first "batch persisted" line, if any. */
  firstBatchAt(): number | undefined;
  kill(signal: NodeJS.Signals): void;
  /**
   * SIGKILL the moment the worker prints its next "batch persisted" line: that batch's rows are committed
   * in PostgreSQL and its offsets (most likely) not yet in Kafka: the crash window that redelivers stored rows.
   */
  killAfterNextBatch(): Promise<void>;
}

export interface WorkerOptions {
  topic: string;
  group: string;
  env?: Record<string, string>;
  window?: string;
  batchSize?: string;
  sessionTimeoutSeconds?: number;
}

/**
 * `npm run worker` as the real process (node --import tsx, no npm/npx wrapper, so signals reach it),
 * logging at info level so the test can read its batch summaries.
 */
export function spawnWorker({
  topic,
  group,
  env = {},
  window = "0.2",
  batchSize = "500",
  sessionTimeoutSeconds = 6,
}: WorkerOptions): WorkerProcess {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "scripts/worker.ts",
      "--topic",
      topic,
      "--group",
      group,
      "--window",
      window,
      "--batch-size",
      batchSize,
      "--session-timeout",
      String(sessionTimeoutSeconds),
    ],
    { cwd: REPO_ROOT, env: { ...process.env, LOG_LEVEL: "info", ...env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  let killTrigger: (() => void) | undefined;
  const keep = (chunk: Buffer) => {
    const text = chunk.toString();
    output += text;
    if (killTrigger && text.includes('"msg":"batch persisted"')) killTrigger();
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  const logs = (): LogLine[] => parseLogLines<LogLine>(output);
  return {
    child,
    pid: child.pid as number,
    exited,
    output: () => output,
    logs,
    redelivered: () =>
      logs()
        .filter((line) => line.msg === "batch persisted")
        .reduce((sum, line) => sum + (line.duplicates ?? 0), 0),
    firstBatchAt: () => logs().find((line) => line.msg === "batch persisted")?.time,
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    killAfterNextBatch: () =>
      new Promise((done) => {
        killTrigger = () => {
          killTrigger = undefined;
          child.kill("SIGKILL");
          done();
        };
      }),
  };
}

/** SIGTERM (graceful: finish, commit, exit 0); SIGKILL if it has not exited within `graceMs`. */
export async function stopWorker(worker: WorkerProcess, graceMs = 20_000): Promise<number | null> {
  worker.kill("SIGTERM");
  const code = await Promise.race([worker.exited, sleep(graceMs).then(() => "timeout" as const)]);
  if (code === "timeout") {
    worker.kill("SIGKILL");
    await worker.exited;
    return null;
  }
  return code;
}
