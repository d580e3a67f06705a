import { and, between, count, inArray, sql } from "drizzle-orm";
import { type Database, getDb } from "../../lib/db/client.js";
import { transactions } from "../../lib/db/schema.js";
import type { AcceptedRow } from "./run.js";
import { type LatencySummary, summarize } from "./stats.js";

export const VERIFY_CHUNK = 5_000;

export interface VerifyOptions {
  /** Give up waiting for missing ids after this long. */
  timeoutMs: number;
  /** The run's time window; rows received in it with a run fingerprint count toward duplicates. */
  window: { from: Date; to: Date };
  pollMs?: number;
  db?: Database;
  onProgress?: (stored: number, total: number) => void;
}

export interface VerifyReport {
  accepted: number;
  stored: number;
  /** Accepted ids not stored when the wait ended. Must be 0. */
  lost: number;
  /** Rows stored beyond the accepted count for the same content in the run's window. Must be 0. */
  duplicated: number;
  waitedMs: number;
  /** persisted_at - received_at of the stored accepted rows. */
  endToEndMs: LatencySummary;
}

function* chunks<T>(items: readonly T[], size = VERIFY_CHUNK): Generator<T[]> {
  for (let start = 0; start < items.length; start += size) yield items.slice(start, start + size);
}

/**
 * Waits until every accepted id is stored (or the timeout), then checks for duplicates: ids are
 * assigned by the API, so a row stored twice has two ids. Rows received during the run are grouped
 * by content (step, type, nameOrig, amount, nameDest); any group holding more rows than this run
 * had accepted with that content is a duplicate. A concurrent run of the same file would also
 * count, so verify one run at a time.
 */
export async function verifyStored(acceptedRows: readonly AcceptedRow[], options: VerifyOptions): Promise<VerifyReport> {
  const db = options.db ?? getDb();
  const started = performance.now();
  const pending = new Set(acceptedRows.map((row) => row.id));
  const total = pending.size;
  while (pending.size > 0) {
    for (const chunk of chunks([...pending])) {
      const found = await db.select({ id: transactions.id }).from(transactions).where(inArray(transactions.id, chunk));
      for (const { id } of found) pending.delete(id);
    }
    options.onProgress?.(total - pending.size, total);
    if (pending.size === 0 || performance.now() - started > options.timeoutMs) break;
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 500));
  }
  const waitedMs = Math.round(performance.now() - started);

  const latencies: number[] = [];
  for (const chunk of chunks(acceptedRows.map((row) => row.id))) {
    const rows = await db
      .select({ ms: sql<string>`extract(epoch from ${transactions.persistedAt} - ${transactions.receivedAt}) * 1000` })
      .from(transactions)
      .where(inArray(transactions.id, chunk));
    for (const row of rows) latencies.push(Number(row.ms));
  }

  const acceptedByFingerprint = new Map<string, number>();
  for (const row of acceptedRows)
    acceptedByFingerprint.set(row.fingerprint, (acceptedByFingerprint.get(row.fingerprint) ?? 0) + 1);
  const names = [...new Set(acceptedRows.map((row) => row.fingerprint.split("|")[2] as string))];
  // Received-at comes from the API's clock, the window from ours: allow a little skew.
  const from = new Date(options.window.from.getTime() - 5_000);
  const to = new Date(options.window.to.getTime() + 5_000);
  let duplicated = 0;
  for (const chunk of chunks(names)) {
    const groups = await db
      .select({
        fingerprint: sql<string>`concat_ws('|', ${transactions.step}, ${transactions.type}, ${transactions.nameOrig}, trim_scale(${transactions.amount})::text, ${transactions.nameDest})`,
        stored: count(),
      })
      .from(transactions)
      .where(and(inArray(transactions.nameOrig, chunk), between(transactions.receivedAt, from, to)))
      .groupBy(sql`1`);
    for (const group of groups) {
      const expected = acceptedByFingerprint.get(group.fingerprint);
      if (expected !== undefined) duplicated += Math.max(0, group.stored - expected);
    }
  }

  return {
    accepted: total,
    stored: total - pending.size,
    lost: pending.size,
    duplicated,
    waitedMs,
    endToEndMs: summarize(latencies),
  };
}
