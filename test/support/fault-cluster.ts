import { chmodSync, cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type Admin, ConfigResourceTypes, Kafka, logLevel } from "kafkajs";
import type pg from "pg";
import { freePort, type NativeKafkaBroker, NativeKafkaCluster, waitFor } from "../../scripts/infra/index.js";
import { simulate } from "../../scripts/simulate/run.js";
import { eventually, REPO_ROOT } from "./fault-infra.js";
import type { OfflineServer } from "./offline.js";

/**
 * Failure detection of the test clusters: a broker that stops heartbeating is fenced by the active controller
 * after BROKER_SESSION_TIMEOUT_MS (Kafka's default: 9 s) and its partitions get new leaders from their ISR.
 * Shorter, so a fault test measures failover in seconds; not shorter: at 3 s (heartbeats every 0.5 s) a busy
 * 2-core machine fenced healthy brokers now and then (metadata listing 2 of 3).
 */
export const BROKER_SESSION_TIMEOUT_MS = 6_000;

export interface FaultCluster {
  cluster: NativeKafkaCluster;
  brokers: string[];
  destroy(): Promise<void>;
}

/** Three KRaft nodes of the test's own on free ports in a temp dir (jars from the shared cache), all running. */
export async function startFaultCluster(nodes = 3): Promise<FaultCluster> {
  const dir = mkdtempSync(join(tmpdir(), "txlog-fault-cluster-"));
  chmodSync(dir, 0o755);
  const layout = [];
  for (let nodeId = 1; nodeId <= nodes; nodeId += 1) {
    layout.push({ nodeId, port: await freePort(), controllerPort: await freePort() });
  }
  const cluster = new NativeKafkaCluster({
    dir,
    cacheDir: resolve(REPO_ROOT, ".cache"),
    nodes: layout,
    partitions: 3,
    heapMb: 256,
    properties: {
      "broker.session.timeout.ms": BROKER_SESSION_TIMEOUT_MS,
      "broker.heartbeat.interval.ms": 1_000,
      // A stopped or killed follower leaves the ISR when the controller fences it; this bounds a slow one.
      "replica.lag.time.max.ms": 10_000,
    },
  });
  await cluster.start();
  return {
    cluster,
    brokers: cluster.brokers,
    async destroy() {
      for (const node of cluster.nodes) {
        node.signal("SIGCONT");
        node.kill();
      }
      await sleep(300);
      // FAULT_DEBUG_DIR: keep each node's server.log for a post-mortem.
      const keep = process.env.FAULT_DEBUG_DIR;
      if (keep)
        for (const node of cluster.nodes) cpSync(join(node.dir, "logs"), join(keep, `node-${node.nodeId}`), { recursive: true });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface PartitionState {
  partition: number;
  leader: number;
  isr: number[];
}

/** The partitions' leaders and ISRs as `node` answers a Metadata request: a poll, not a client (short timeouts, no retries). */
async function nodeView(node: NativeKafkaBroker, topic: string): Promise<PartitionState[]> {
  const admin: Admin = new Kafka({
    clientId: "txlog-tests-poll",
    brokers: node.brokers,
    connectionTimeout: 1_000,
    requestTimeout: 2_000,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
  }).admin();
  try {
    await admin.connect();
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    return (topics[0]?.partitions ?? [])
      .map(({ partitionId, leader, isr }) => ({ partition: partitionId, leader, isr: [...isr].sort() }))
      .sort((a, b) => a.partition - b.partition);
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * The partitions' leaders and ISRs, asked of each running node but `skip` (a SIGSTOPped broker keeps its
 * connections open and answers nothing). Each node answers from its own copy of the cluster's metadata;
 * the first that answers is returned.
 */
export async function partitionStates(
  cluster: NativeKafkaCluster,
  topic: string,
  skip?: NativeKafkaBroker,
): Promise<PartitionState[]> {
  const views = await nodeViews(cluster, topic, skip);
  const answered = Object.values(views).find((view) => Array.isArray(view));
  if (!answered) throw new Error(`no node answered: ${JSON.stringify(views)}`);
  return answered as PartitionState[];
}

/** Every running node's view (or its error), by node id. */
async function nodeViews(
  cluster: NativeKafkaCluster,
  topic: string,
  skip?: NativeKafkaBroker,
): Promise<Record<number, PartitionState[] | string>> {
  const running = cluster.nodes.filter((node) => node !== skip && node.pid !== undefined);
  const views = await Promise.all(
    running.map((node) => nodeView(node, topic).catch((error: Error) => `error: ${error.message}`)),
  );
  return Object.fromEntries(running.map((node, index) => [node.nodeId, views[index] as PartitionState[] | string]));
}

/**
 * Polls until every partition of `topic` satisfies `accept` in the view of every running node but `skip`
 * (they agree once the metadata has reached them all); returns the ms waited.
 */
export async function waitForPartitions(
  cluster: NativeKafkaCluster,
  topic: string,
  what: string,
  accept: (state: PartitionState) => boolean,
  { skip, timeoutMs = 120_000 }: { skip?: NativeKafkaBroker; timeoutMs?: number } = {},
): Promise<number> {
  const started = performance.now();
  let last: Record<number, PartitionState[] | string> = {};
  await waitFor(
    what,
    async () => {
      last = await nodeViews(cluster, topic, skip);
      const views = Object.values(last);
      return views.length > 0 && views.every((view) => Array.isArray(view) && view.length > 0 && view.every(accept));
    },
    { timeoutMs, intervalMs: 100, onTimeout: () => `views by node: ${JSON.stringify(last)}` },
  );
  return performance.now() - started;
}

/** The node leading `partition` of `topic`. */
export async function leaderOf(cluster: NativeKafkaCluster, topic: string, partition: number): Promise<NativeKafkaBroker> {
  const state = (await partitionStates(cluster, topic)).find((candidate) => candidate.partition === partition);
  if (!state) throw new Error(`no partition ${partition} in ${topic}`);
  return cluster.node(state.leader);
}

/** The paysim.csv at the repository's root (10,000 generated rows). */
export const PAYSIM_CSV = join(REPO_ROOT, "paysim.csv");

export interface SimulatedLoad {
  /** Epoch ms of each rejected (non-202) answer, as simulate's progress reported them (to ~250 ms). */
  rejectedAt: number[];
  /** Epoch ms at which answers were accepted (one entry per progress tick that saw new 202s). */
  acceptedAt: number[];
  /** Stops after the chunk in flight; the accepted ids and rejections by status. */
  stop(): Promise<{ accepted: string[]; rejected: Record<string, number>; requests: number }>;
}

/**
 * `npm run simulate`'s own engine (scripts/simulate/run.ts) against `server`, one PaySim row per POST
 * /transaction at `rate` tx/s, in chunks of `chunkRows` rows until stopped (each chunk reads the file from
 * its top again: the same rows, new ids). Records when answers were accepted and rejected.
 */
export function simulateLoad(server: OfflineServer, { rate = 100, concurrency = 8, chunkRows = 200 } = {}): SimulatedLoad {
  const rejectedAt: number[] = [];
  const acceptedAt: number[] = [];
  const accepted: string[] = [];
  const rejected: Record<string, number> = {};
  let requests = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      let seenAccepted = 0;
      let seenRejected = 0;
      const { report, acceptedRows } = await simulate({
        url: server.baseUrl,
        apiKey: server.apiKey,
        file: PAYSIM_CSV,
        rows: chunkRows,
        concurrency,
        rate,
        bulk: 1,
        requestTimeoutMs: 15_000,
        keepAccepted: true,
        onProgress: (progress) => {
          const now = Date.now();
          for (; seenRejected < progress.rejected; seenRejected += 1) rejectedAt.push(now);
          if (progress.accepted > seenAccepted) acceptedAt.push(now);
          seenAccepted = progress.accepted;
        },
      });
      accepted.push(...acceptedRows.map((row) => row.id));
      for (const [status, count] of Object.entries(report.rejected)) rejected[status] = (rejected[status] ?? 0) + count;
      requests += report.requests;
    }
  })();
  return {
    rejectedAt,
    acceptedAt,
    async stop() {
      running = false;
      await loop;
      return { accepted, rejected, requests };
    },
  };
}

/** Row counts by id of what the consumer stored from `topic` among rows the API received within [from, to]. */
export async function storedCountsBetween(pool: pg.Pool, topic: string, from: Date, to: Date): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ id: string; n: number }>(
    "select id::text, count(*)::int as n from transactions where kafka_topic = $1 and received_at between $2 and $3 group by id",
    [topic, from, to],
  );
  return new Map(rows.map(({ id, n }) => [id, n]));
}

export interface Located {
  id: string;
  partition: number;
  offset: string;
}

/**
 * Where the messages carrying `ids` are in `topic`, read from the beginning to the current end once with
 * read_committed (what the consumers see) and once with read_uncommitted (also open and aborted
 * transactions): for a post-mortem when accepted transactions were not stored.
 */
export async function locateMessages(
  brokers: string[],
  topic: string,
  ids: ReadonlySet<string>,
  timeoutMs = 20_000,
): Promise<{ committed: Located[]; uncommitted: Located[] }> {
  const read = async (readUncommitted: boolean) => {
    const kafka = new Kafka({ clientId: "txlog-tests-locate", brokers, logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: `test.locate.${Math.random().toString(36).slice(2)}`, readUncommitted });
    const found: Located[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          const id = (JSON.parse(message.value?.toString() ?? "{}") as { id?: string }).id;
          if (id && ids.has(id)) found.push({ id, partition, offset: message.offset });
        },
      });
      await sleep(timeoutMs);
    } finally {
      await consumer.disconnect();
    }
    return found;
  };
  const [committed, uncommitted] = await Promise.all([read(false), read(true)]);
  return { committed, uncommitted };
}

/**
 * A new topic's replicas per partition and its min.insync.replicas, as the broker `admin` talks to sees
 * them. Every broker learns of a topic a moment after its leaders exist: asked until the one asked knows.
 */
export async function replicationOf(admin: Admin, topic: string): Promise<{ replicas: number[]; minInsyncReplicas: string[] }> {
  const replicas = await eventually(
    "the topic's metadata",
    async () => (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]?.partitions.map((p) => p.replicas.length),
    (counts) => (counts?.length ?? 0) > 0,
    20_000,
    200,
  );
  const resources = await eventually(
    "the topic's configuration",
    async () =>
      (
        await admin.describeConfigs({
          includeSynonyms: false,
          resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ["min.insync.replicas"] }],
        })
      ).resources,
    (found) => found.length === 1,
    20_000,
    200,
  );
  return {
    replicas: replicas ?? [],
    minInsyncReplicas: resources[0]?.configEntries.map((entry) => entry.configValue) ?? [],
  };
}
