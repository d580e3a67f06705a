import { and, asc, eq, gt, isNull, lte, sql } from "drizzle-orm";
import { canonicalContent, chainHash, GENESIS_HASH } from "../../lib/db/chain.js";
import type { Database } from "../../lib/db/client.js";
import { chainHeads, type TransactionRow, transactions } from "../../lib/db/schema.js";

/** Rows read a query; each read is one index range scan of (chain_scope, chain_seq). */
export const VERIFY_CHUNK_ROWS = 5_000;

/** The first place a chain does not hold, and why. */
export interface Break {
  scope: string;
  seq: number | null;
  id: string | null;
  reason: string;
}

export interface ScopeResult {
  scope: string;
  from: number;
  /** The last seq read (from - 1 when the range held no row). */
  to: number;
  rows: number;
  head: { seq: number; hash: string } | null;
  broken: Break | null;
}

export interface Range {
  from: number;
  /** Inclusive; undefined: to the chain's head, which is then checked too. */
  to?: number;
}

export async function chainScopes(db: Database): Promise<{ scope: string; seq: number; hash: string; createdAt: Date }[]> {
  return db.select().from(chainHeads).orderBy(asc(chainHeads.scope));
}

/**
 * Recomputes one chain over `range`: each row's hash from the previous row's stored hash and its own content, its
 * seq one after the previous one's, and (to the head) the last row against chain_heads. A range starting after 1
 * trusts the stored hash of the row before it. Stops at the first break.
 */
export async function verifyScope(
  db: Database,
  scope: string,
  range: Range,
  onRows: (rows: number) => void = () => {},
): Promise<ScopeResult> {
  const [head] = await db.select().from(chainHeads).where(eq(chainHeads.scope, scope));
  const result: ScopeResult = { scope, from: range.from, to: range.from - 1, rows: 0, head: head ?? null, broken: null };
  const fail = (row: Pick<TransactionRow, "chainSeq" | "id"> | null, seq: number | null, reason: string) => {
    result.broken = { scope, seq: row?.chainSeq ?? seq, id: row?.id ?? null, reason };
    return result;
  };
  if (!head) return fail(null, null, "no chain_heads row: the chain's head was deleted, or the scope never existed");

  let previous = GENESIS_HASH;
  if (range.from > 1) {
    const [before] = await db
      .select({ hash: transactions.chainHash })
      .from(transactions)
      .where(and(eq(transactions.chainScope, scope), eq(transactions.chainSeq, range.from - 1)));
    if (!before?.hash) return fail(null, range.from - 1, `row ${range.from - 1}, the range's anchor, is missing (deleted)`);
    previous = before.hash;
  }
  let expected = range.from;
  const last = range.to ?? head.seq;
  while (expected <= last) {
    const rows = await db
      .select()
      .from(transactions)
      .where(and(eq(transactions.chainScope, scope), gt(transactions.chainSeq, expected - 1), lte(transactions.chainSeq, last)))
      .orderBy(asc(transactions.chainSeq))
      .limit(VERIFY_CHUNK_ROWS);
    if (rows.length === 0) break;
    for (const row of rows) {
      const seq = row.chainSeq as number;
      if (seq !== expected) {
        const missing = seq - 1 === expected ? `row ${expected} is` : `rows ${expected} to ${seq - 1} are`;
        return fail(row, null, `${missing} missing (deleted): this row follows row ${expected - 1}`);
      }
      const recomputed = chainHash(previous, canonicalContent(scope, seq, row));
      if (recomputed !== row.chainHash) {
        return fail(row, null, "its content does not match its hash (edited, or inserted by hand with a made-up hash)");
      }
      previous = row.chainHash;
      expected += 1;
      result.to = seq;
      result.rows += 1;
    }
    onRows(result.rows);
    if (rows.length < VERIFY_CHUNK_ROWS) break;
  }
  if (range.to !== undefined) {
    if (result.to < range.to && range.to <= head.seq)
      return fail(null, result.to + 1, `rows ${result.to + 1} to ${range.to} are missing (deleted)`);
    return result;
  }
  if (result.to < head.seq)
    return fail(null, result.to + 1, `rows ${result.to + 1} to ${head.seq} are missing (deleted): the head is row ${head.seq}`);
  if (result.to === head.seq && head.seq > 0 && previous !== head.hash) {
    return fail(null, head.seq, "the last row's hash is not the head's (the head or the row was changed)");
  }
  const [beyond] = await db
    .select({ id: transactions.id, chainSeq: transactions.chainSeq })
    .from(transactions)
    .where(and(eq(transactions.chainScope, scope), gt(transactions.chainSeq, head.seq)))
    .orderBy(asc(transactions.chainSeq))
    .limit(1);
  if (beyond) return fail(beyond, null, `beyond the chain's head (row ${head.seq}): inserted by hand`);
  return result;
}

/**
 * Rows without a chain. Stored before chaining began (the migration): counted, they cannot be verified. Stored
 * after the first chain began: the first of them is a break (the check constraint was dropped to insert it).
 */
export async function unchainedRows(db: Database): Promise<{ before: number; after: { id: string; persistedAt: Date } | null }> {
  const [first] = await db
    .select({ at: sql<Date | null>`min(${chainHeads.createdAt})`.mapWith(chainHeads.createdAt) })
    .from(chainHeads);
  const since = first?.at ?? null;
  const [counted] = await db
    .select({ count: sql<number>`count(*)::int` })
    .from(transactions)
    .where(and(isNull(transactions.chainHash), since ? sql`${transactions.persistedAt} < ${since}` : undefined));
  const [after] = since
    ? await db
        .select({ id: transactions.id, persistedAt: transactions.persistedAt })
        .from(transactions)
        .where(and(isNull(transactions.chainHash), sql`${transactions.persistedAt} >= ${since}`))
        .limit(1)
    : [];
  return { before: counted?.count ?? 0, after: after ?? null };
}
