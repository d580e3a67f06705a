import { and, asc, count, desc, eq, gt, gte, inArray, isNull, type SQL, sql } from "drizzle-orm";
import type { Database } from "../../lib/db/client.js";
import { deadLetters } from "../../lib/db/schema.js";

/** The dead_letters table as the dead-letters CLI reads and marks it. */

export type DeadLetterRow = typeof deadLetters.$inferSelect;
export type NewDeadLetterRow = typeof deadLetters.$inferInsert;

export interface DeadLetterFilter {
  reason?: string;
  /** Dead-lettered at or after this instant. */
  since?: Date;
  /** Source topic. */
  topic?: string;
  /** Only rows never redriven. */
  pending?: boolean;
}

function where(filter: DeadLetterFilter): SQL | undefined {
  return and(
    filter.reason === undefined ? undefined : eq(deadLetters.reason, filter.reason),
    filter.since === undefined ? undefined : gte(deadLetters.createdAt, filter.since),
    filter.topic === undefined ? undefined : eq(deadLetters.topic, filter.topic),
    filter.pending ? isNull(deadLetters.redrivenAt) : undefined,
  );
}

/** Newest first. */
export async function listDeadLetters(db: Database, filter: DeadLetterFilter, limit: number): Promise<DeadLetterRow[]> {
  return db.select().from(deadLetters).where(where(filter)).orderBy(desc(deadLetters.id)).limit(limit);
}

export interface ReasonCount {
  reason: string;
  count: number;
  /** Of them, never redriven. */
  pending: number;
}

/** How many rows match, by reason (most first). */
export async function countByReason(db: Database, filter: DeadLetterFilter): Promise<ReasonCount[]> {
  const rows = await db
    .select({
      reason: deadLetters.reason,
      count: count(),
      pending: sql<number>`count(*) filter (where ${deadLetters.redrivenAt} is null)`.mapWith(Number),
    })
    .from(deadLetters)
    .where(where(filter))
    .groupBy(deadLetters.reason)
    .orderBy(desc(count()), asc(deadLetters.reason));
  return rows;
}

export async function findDeadLetter(db: Database, id: number): Promise<DeadLetterRow | undefined> {
  const [row] = await db.select().from(deadLetters).where(eq(deadLetters.id, id));
  return row;
}

/** How many rows a redrive without --id takes. */
export async function countPending(db: Database, filter: Omit<DeadLetterFilter, "pending">): Promise<number> {
  const [row] = await db
    .select({ count: count() })
    .from(deadLetters)
    .where(where({ ...filter, pending: true }));
  return row?.count ?? 0;
}

/**
 * The next rows a redrive without --id takes, after id `afterId`: never redriven, oldest first (each
 * partition's order kept), at most `limit` rows and, past the first, `maxBytes` of stored values, so a
 * page of large values stays small in memory.
 */
export async function pendingDeadLettersPage(
  db: Database,
  filter: Omit<DeadLetterFilter, "pending">,
  afterId: number,
  { limit, maxBytes }: { limit: number; maxBytes: number },
): Promise<DeadLetterRow[]> {
  const sizes = await db
    .select({ id: deadLetters.id, bytes: sql<number>`coalesce(octet_length(${deadLetters.value}), 0)`.mapWith(Number) })
    .from(deadLetters)
    .where(and(where({ ...filter, pending: true }), gt(deadLetters.id, afterId)))
    .orderBy(asc(deadLetters.id))
    .limit(limit);
  const ids: number[] = [];
  let bytes = 0;
  for (const size of sizes) {
    if (ids.length > 0 && bytes + size.bytes > maxBytes) break;
    ids.push(size.id);
    bytes += size.bytes;
  }
  if (ids.length === 0) return [];
  return db.select().from(deadLetters).where(inArray(deadLetters.id, ids)).orderBy(asc(deadLetters.id));
}

/** Records that the rows were produced again; returns the time stamped. */
export async function markRedriven(db: Database, ids: number[]): Promise<Date | undefined> {
  if (ids.length === 0) return undefined;
  const [row] = await db
    .update(deadLetters)
    .set({ redrivenAt: sql`now()` })
    .where(inArray(deadLetters.id, ids))
    .returning({ redrivenAt: deadLetters.redrivenAt });
  return row?.redrivenAt ?? undefined;
}

/** Inserts rows; a source offset already kept adds nothing. Returns how many were new. */
export async function insertDeadLetterRows(db: Database, rows: NewDeadLetterRow[]): Promise<number> {
  let inserted = 0;
  // 8 parameters a row: 1,000 rows a statement stay far below PostgreSQL's 65,535.
  for (let start = 0; start < rows.length; start += 1_000) {
    const added = await db
      .insert(deadLetters)
      .values(rows.slice(start, start + 1_000))
      .onConflictDoNothing({ target: [deadLetters.topic, deadLetters.partition, deadLetters.offset] })
      .returning({ id: deadLetters.id });
    inserted += added.length;
  }
  return inserted;
}
