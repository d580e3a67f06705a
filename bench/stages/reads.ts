import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { ensureTopics } from "../../lib/kafka/admin.js";
import { encodeCursor } from "../../lib/reports/list.js";
import { SUMMARY_CACHE_MS } from "../../lib/reports/summary.js";
import { databaseName, dropDatabase, withDatabase } from "../../scripts/infra/index.js";
import { BENCH_API_KEY, type RunContext, topicName } from "../lib/context.js";
import { freshDatabase } from "../lib/database.js";
import { startApi } from "../lib/pipeline.js";
import { percentile, row } from "../lib/report.js";
import { fillSynthetic, syntheticReceivedAt } from "../lib/synthetic.js";

/** A read the API answers, and whether its time may grow with the table (pages must not). */
interface Read {
  name: string;
  path: string;
  /** Identical requests within SUMMARY_CACHE_MS are answered from the cache: space the samples past it. */
  cached?: boolean;
}

/**
 * Where the reads point into the generated rows: the middle row, the first Completed one. Its cursor is a
 * deep page, and for status=Completed one with no older match, which only an index on that filter answers
 * without reading the whole older half.
 */
interface Probe {
  cursor: string;
  id: string;
  nameOrig: string;
}

/** Every read the API and the dashboard make, at the size's own positions. */
function readsOf(probe: Probe): Read[] {
  const filters: [string, string][] = [
    ["", "no filter"],
    ["&status=Completed", "status=Completed"],
    ["&status=Historical", "status=Historical"],
    ["&type=TRANSFER", "type=TRANSFER"],
    ["&type=DEBIT", "type=DEBIT"],
    ["&isFraud=true", "isFraud=true"],
    ["&isFraud=false", "isFraud=false"],
    [`&nameOrig=${probe.nameOrig}`, "nameOrig"],
  ];
  return [
    ...filters.flatMap(([query, name]) => [
      { name: `/reports newest page, ${name}`, path: `/reports?limit=100${query}` },
      { name: `/reports page at the middle, ${name}`, path: `/reports?limit=100${query}&cursor=${probe.cursor}` },
    ]),
    { name: "/transactions/{id}", path: `/transactions/${probe.id}` },
    { name: "/reports/summary", path: "/reports/summary", cached: true },
    { name: "/reports/summary, type and steps", path: "/reports/summary?type=TRANSFER&stepFrom=100&stepTo=300", cached: true },
    { name: "/pipeline/stats", path: "/pipeline/stats" },
  ];
}

async function timeRead(baseUrl: string, read: Read, samples: number): Promise<number> {
  const timings: number[] = [];
  // One unmeasured request first: the function's bundle loads and its pool connects on the first.
  for (let i = 0; i <= samples; i++) {
    if (read.cached && i > 0) await sleep(SUMMARY_CACHE_MS + 100);
    const started = performance.now();
    const response = await fetch(`${baseUrl}${read.path}`, { headers: { "x-api-key": BENCH_API_KEY } });
    await response.arrayBuffer();
    const ms = performance.now() - started;
    if (response.status !== 200) throw new Error(`${read.name}: ${read.path} answered ${response.status}`);
    if (i > 0) timings.push(ms);
  }
  return percentile(timings, 50);
}

/** The middle row of the generated table: its cursor position, id and account. */
async function probeOf(client: pg.Client, rows: number): Promise<Probe> {
  const middle = syntheticReceivedAt(Math.floor(rows / 2) + 1, rows);
  const { rows: found } = await client.query<{ id: string; name_orig: string; received_at: Date }>(
    "select id, name_orig, received_at from transactions where received_at = $1 order by id desc limit 1",
    [middle],
  );
  const probe = found[0];
  if (!probe) throw new Error(`no generated row was received at ${middle.toISOString()}`);
  return {
    cursor: encodeCursor({ receivedAt: probe.received_at.toISOString(), id: probe.id }),
    id: probe.id,
    nameOrig: probe.name_orig,
  };
}

/** Generates `rows` rows into a database of their own, starts the API on it and times each read. */
async function measureAt(context: RunContext, rows: number, topic: string): Promise<Map<string, number>> {
  const { log } = context;
  const databaseUrl = withDatabase(context.databaseUrl, `${databaseName(context.databaseUrl)}_reads`);
  await freshDatabase(databaseUrl);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const started = performance.now();
    await fillSynthetic(client, rows, (inserted) => log.info({ stage: "9", inserted, of: rows }, "generating rows"));
    const fillMs = performance.now() - started;
    log.info({ stage: "9", rows, fillMs: Math.round(fillMs) }, "rows generated, indexes built");
    context.details[`readsFill${rows}`] = { rows, fillMs };
    const probe = await probeOf(client, rows);
    const server = await startApi({ ...context, databaseUrl }, `api-reads-${rows}`, topic);
    try {
      const medians = new Map<string, number>();
      for (const read of readsOf(probe)) {
        const median = await timeRead(server.baseUrl, read, context.sizes.readSamples);
        log.info({ stage: "9", rows, read: read.name, medianMs: Math.round(median * 10) / 10 }, "read timed");
        medians.set(read.name, median);
      }
      return medians;
    } finally {
      await server.stop();
    }
  } finally {
    await client.end();
    await dropDatabase(databaseUrl);
  }
}

/** What a page may cost at the large size against the small one, and what the summary may take there. */
const PAGE_RATIO = 3;
const SUMMARY_MS = 250;

/**
 * Stage 9 (reads): every read the API and the dashboard make, timed through the API (median of
 * readSamples) against readsSmallRows and then readsLargeRows rows generated by SQL. The small size is the
 * reference: a read whose cost grows with the log fails its ratio; the summary also has a time budget.
 */
export async function readsAtScale(context: RunContext): Promise<void> {
  const { sizes } = context;
  const topic = topicName(context, "reads");
  await ensureTopics([topic, `${topic}.dead-letter`]);
  context.topics.push(`${topic}.dead-letter`);
  const small = await measureAt(context, sizes.readsSmallRows, topic);
  const large = await measureAt(context, sizes.readsLargeRows, topic);
  const label = (rows: number) => (rows >= 1_000_000 ? `${rows / 1_000_000}M` : `${rows / 1_000}k`);
  context.details.reads = Object.fromEntries([...large].map(([name, ms]) => [name, { small: small.get(name), large: ms }]));
  for (const [name, ms] of large) {
    const reference = small.get(name);
    const isSummary = name.startsWith("/reports/summary");
    context.rows.push(
      row("9 reads", `${name} at ${label(sizes.readsLargeRows)} rows`, ms, "ms", {
        ...(reference === undefined ? {} : { reference }),
        target: isSummary
          ? { on: "value", comparison: "<=", threshold: SUMMARY_MS }
          : { on: "ratio", comparison: "<=", threshold: PAGE_RATIO },
        ...(name === "/reports/summary"
          ? { note: `reference: the same read at ${label(sizes.readsSmallRows)} rows; median of ${sizes.readSamples}` }
          : {}),
      }),
    );
  }
}
