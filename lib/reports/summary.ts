import { and, eq, gte, lte, type SQL, sql } from "drizzle-orm";
import type { AnyPgColumn } from "drizzle-orm/pg-core";
import { z } from "zod";
import type { Database } from "../db/client.js";
import { readDatabase } from "../db/reads.js";
import { transactionTotals } from "../db/schema.js";
import { TRANSACTION_STATUSES, TRANSACTION_TYPES } from "../transaction.js";
import { invalidInput } from "../validation.js";
import { MAX_SUMMARY_STEPS, type Summary } from "./schemas.js";

export const MAX_STEP = 1_000_000;

/**
 * A step number in a query string: digits only, so "" or "0x10" are rejected instead of coerced. The
 * document shows it as the integer it means (a query parameter is always a string on the wire).
 */
const StepParam = z
  .string()
  .regex(/^\d{1,7}$/, "must be a whole number")
  .transform(Number)
  .pipe(z.int().min(0).max(MAX_STEP))
  .meta({ type: "integer", minimum: 0, maximum: MAX_STEP });

/** GET /reports/summary's query string. Every filter is optional; together they narrow the rows (AND). */
export const SummaryQuery = z
  .strictObject({
    stepFrom: StepParam.optional().meta({ description: "Lowest step (hour of the simulation) included." }),
    stepTo: StepParam.optional().meta({ description: "Highest step included." }),
    type: z.enum(TRANSACTION_TYPES).optional(),
    status: z.enum(TRANSACTION_STATUSES).optional(),
  })
  .refine((query) => query.stepFrom === undefined || query.stepTo === undefined || query.stepFrom <= query.stepTo, {
    message: "stepFrom must not be greater than stepTo",
    path: ["stepFrom"],
  });
export type SummaryFilter = z.output<typeof SummaryQuery>;

export function parseSummaryQuery(query: Record<string, string | undefined> | null | undefined): SummaryFilter {
  const parsed = SummaryQuery.safeParse(query ?? {});
  if (!parsed.success) throw invalidInput("query", parsed.error);
  return parsed.data;
}

function whereOf(filter: SummaryFilter): SQL | undefined {
  return and(
    filter.stepFrom === undefined ? undefined : gte(transactionTotals.step, filter.stepFrom),
    filter.stepTo === undefined ? undefined : lte(transactionTotals.step, filter.stepTo),
    filter.type === undefined ? undefined : eq(transactionTotals.type, filter.type),
    filter.status === undefined ? undefined : eq(transactionTotals.status, filter.status),
  );
}

/** SUM over NUMERIC is NUMERIC: exact, returned by pg as a string; scale 2, and 0.00 (not null) over no rows. */
const sumOf = (column: AnyPgColumn) => sql<string>`coalesce(sum(${column}), 0.00)::text`;
const countOf = (column: AnyPgColumn) => sql`coalesce(sum(${column}), 0)::bigint`.mapWith(Number) as SQL<number>;

/**
 * Every open dashboard asks for the summary every few seconds: identical requests within this long after an
 * answer get that answer, and identical requests while one is being computed share it (single flight), so N
 * tabs cost one query per window, not N.
 */
export const SUMMARY_CACHE_MS = 2_000;
/** Distinct filters kept at most (the query string chooses them); the oldest go first. */
const SUMMARY_CACHE_ENTRIES = 256;

interface CachedSummary {
  answer: Promise<Summary>;
  /** Infinity while the query runs. */
  expiresAt: number;
}

/** One cache per database (the read pool's under READ_POOL), so a test's own database never shares answers. */
const caches = new WeakMap<object, Map<string, CachedSummary>>();
const READ_POOL = {};

function cacheOf(db: Database | undefined): Map<string, CachedSummary> {
  const owner = db ?? READ_POOL;
  let cache = caches.get(owner);
  if (!cache) {
    cache = new Map();
    caches.set(owner, cache);
  }
  return cache;
}

function evict(cache: Map<string, CachedSummary>, now: number): void {
  for (const [key, entry] of cache) if (entry.expiresAt <= now) cache.delete(key);
  // Map iterates in insertion order: the first keys are the oldest.
  for (const key of cache.keys()) {
    if (cache.size < SUMMARY_CACHE_ENTRIES) break;
    cache.delete(key);
  }
}

/**
 * Totals over the filtered rows, added up by PostgreSQL from transaction_totals (lib/db/schema.ts), which
 * triggers keep current as rows are stored: its size follows the distinct (step, type, status, partition)
 * keys, not the log's length. GROUPING SETS yields the grand total, one row per type, per status and per
 * step. Only aggregates leave the database. Answers may be up to SUMMARY_CACHE_MS old.
 */
export function summarizeTransactions(filter: SummaryFilter, db?: Database): Promise<Summary> {
  const cache = cacheOf(db);
  const key = JSON.stringify([filter.stepFrom ?? null, filter.stepTo ?? null, filter.type ?? null, filter.status ?? null]);
  const now = Date.now();
  const cached = cache.get(key);
  if (cached && cached.expiresAt > now) return cached.answer;
  evict(cache, now);
  const entry: CachedSummary = { answer: readDatabase((reader) => summarize(reader, filter), db), expiresAt: Infinity };
  cache.set(key, entry);
  entry.answer.then(
    () => {
      entry.expiresAt = Date.now() + SUMMARY_CACHE_MS;
    },
    // A failure is not kept: the next request asks the database again.
    () => {
      if (cache.get(key) === entry) cache.delete(key);
    },
  );
  return entry.answer;
}

async function summarize(db: Database, filter: SummaryFilter): Promise<Summary> {
  const { type, status, step } = transactionTotals;
  const grouped = db
    .select({
      // Bit set when the column is NOT part of the row's grouping set: 0b011 = by type, 0b101 = by status, ...
      grouping: sql<number>`grouping(${type}, ${status}, ${step})`.mapWith(Number).as("grouping"),
      type,
      status,
      step,
      count: countOf(transactionTotals.count).as("count"),
      amount: sumOf(transactionTotals.amount).as("amount"),
      fraudCount: countOf(transactionTotals.fraudCount).as("fraud_count"),
      fraudAmount: sumOf(transactionTotals.fraudAmount).as("fraud_amount"),
      flaggedFraudCount: countOf(transactionTotals.flaggedFraudCount).as("flagged_fraud_count"),
      flaggedFraudAmount: sumOf(transactionTotals.flaggedFraudAmount).as("flagged_fraud_amount"),
      // Steps are numbered within the per-step set, so only the first MAX_SUMMARY_STEPS (+1 to tell) leave the database.
      stepRank: sql<number>`row_number() over (partition by grouping(${type}, ${status}, ${step}) order by ${step})`
        .mapWith(Number)
        .as("step_rank"),
    })
    .from(transactionTotals)
    .where(whereOf(filter))
    .groupBy(sql`grouping sets ((), (${type}), (${status}), (${step}))`)
    .as("grouped");
  const rows = await db
    .select()
    .from(grouped)
    .where(sql`${grouped.grouping} <> ${0b110} or ${grouped.stepRank} <= ${MAX_SUMMARY_STEPS + 1}`)
    .orderBy(grouped.step);
  const stepRows = rows.filter((row) => row.grouping === 0b110 && row.step !== null);

  const total = rows.find((row) => row.grouping === 0b111);
  // With GROUPING SETS the () set always yields one row, even over no rows.
  if (!total) throw new Error("summary query returned no grand total row");
  return {
    filter: {
      stepFrom: filter.stepFrom ?? null,
      stepTo: filter.stepTo ?? null,
      type: filter.type ?? null,
      status: filter.status ?? null,
    },
    count: total.count,
    amount: total.amount,
    // In the enums' order (not the database collation's), whatever the locale of the server.
    byType: TRANSACTION_TYPES.flatMap((type) => {
      const row = rows.find((candidate) => candidate.grouping === 0b011 && candidate.type === type);
      return row ? [{ type, count: row.count, amount: row.amount }] : [];
    }),
    byStatus: TRANSACTION_STATUSES.flatMap((status) => {
      const row = rows.find((candidate) => candidate.grouping === 0b101 && candidate.status === status);
      return row ? [{ status, count: row.count, amount: row.amount }] : [];
    }),
    fraud: { count: total.fraudCount, amount: total.fraudAmount },
    flaggedFraud: { count: total.flaggedFraudCount, amount: total.flaggedFraudAmount },
    byStep: stepRows
      .slice(0, MAX_SUMMARY_STEPS)
      .map((row) => ({ step: row.step as number, count: row.count, amount: row.amount })),
    ...(stepRows.length > MAX_SUMMARY_STEPS ? { byStepTruncated: true as const } : {}),
  };
}
