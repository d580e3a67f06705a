import { createHash } from "node:crypto";
import { sql } from "drizzle-orm";
import type { Database } from "./client.js";
import { chainHeads, type NewTransactionRow, type TransactionRow } from "./schema.js";

/**
 * Tamper evidence: every stored transaction carries chain_hash = sha256(previous hash + "\n" + its canonical
 * content), chain_seq (1, 2, 3, ... within its scope) and chain_scope. chain_heads holds each scope's last
 * (seq, hash). A row edited, deleted or inserted by hand no longer recomputes (`npm run verify`).
 *
 * Scope: one chain per Kafka topic-partition ("<topic>-<partition>", the MSK event's own key), and one for rows
 * without Kafka coordinates (seeded Historical rows, "historical"). A consume batch is one partition's records in
 * offset order, and Lambda runs one batch per partition at a time, so a batch extends its own partition's chain
 * under one row lock (its chain_heads row) that no other partition waits for: partitions store in parallel
 * as before. A single global chain would make every batch of every partition wait for the previous commit.
 */
export const GENESIS_HASH = "0".repeat(64);
export const HISTORICAL_SCOPE = "historical";
export const CHAIN_VERSION = "txlog-chain/1";

/** The chain a row belongs to. */
export function chainScopeOf(row: Pick<NewTransactionRow, "kafkaTopic" | "kafkaPartition">): string {
  return row.kafkaTopic != null && row.kafkaPartition != null ? `${row.kafkaTopic}-${row.kafkaPartition}` : HISTORICAL_SCOPE;
}

/** A NUMERIC(18, 2) value as PostgreSQL prints it: "181" and "181.0" are "181.00". */
export function money2(plain: string): string {
  const [whole = "0", fraction = ""] = plain.split(".");
  return `${whole}.${fraction.padEnd(2, "0")}`;
}

/** What the hash covers, as stored. */
export type ChainContent = Pick<
  TransactionRow,
  | "id"
  | "step"
  | "type"
  | "amount"
  | "nameOrig"
  | "oldbalanceOrg"
  | "newbalanceOrig"
  | "nameDest"
  | "oldbalanceDest"
  | "newbalanceDest"
  | "isFraud"
  | "isFlaggedFraud"
  | "status"
  | "receivedAt"
  | "persistedAt"
  | "kafkaTopic"
  | "kafkaPartition"
  | "kafkaOffset"
  | "idempotencyFingerprint"
>;

/**
 * The canonical serialisation (version 1): a JSON array in this fixed order, money as exact decimal strings with 2
 * decimals, instants as ISO 8601 UTC with milliseconds, absent Kafka coordinates and fingerprint as null. The
 * scope and position are part of it, so a row cannot be moved to another place or chain.
 */
export function canonicalContent(scope: string, seq: number, row: ChainContent): string {
  return JSON.stringify([
    CHAIN_VERSION,
    scope,
    seq,
    row.id.toLowerCase(),
    row.step,
    row.type,
    money2(row.amount),
    row.nameOrig,
    money2(row.oldbalanceOrg),
    money2(row.newbalanceOrig),
    row.nameDest,
    money2(row.oldbalanceDest),
    money2(row.newbalanceDest),
    row.isFraud,
    row.isFlaggedFraud,
    row.status,
    row.receivedAt.toISOString(),
    row.persistedAt.toISOString(),
    row.kafkaTopic ?? null,
    row.kafkaPartition ?? null,
    row.kafkaOffset ?? null,
    row.idempotencyFingerprint ?? null,
  ]);
}

export function chainHash(previousHash: string, canonical: string): string {
  return createHash("sha256").update(previousHash).update("\n").update(canonical).digest("hex");
}

type Executor = Pick<Database, "execute">;

/**
 * Locks the scope's head for the rest of the transaction (creating it at the genesis), and reads it with the
 * transaction's now() in milliseconds: the persisted_at its rows are stored, and hashed, with.
 */
async function lockHead(db: Executor, scope: string): Promise<{ seq: number; hash: string; now: Date }> {
  const { rows } = await db.execute<{ seq: string; hash: string; now_ms: string }>(
    sql`insert into ${chainHeads} (scope, seq, hash) values (${scope}, 0, ${GENESIS_HASH})
        on conflict (scope) do update set scope = excluded.scope
        returning seq, hash, floor(extract(epoch from now()) * 1000)::bigint as now_ms`,
  );
  const head = rows[0] as { seq: string; hash: string; now_ms: string };
  return { seq: Number(head.seq), hash: head.hash, now: new Date(Number(head.now_ms)) };
}

/** `rows` (one scope, in the order they are stored), each with its place in the chain after `head`. */
function link(scope: string, head: { seq: number; hash: string; now: Date }, rows: NewTransactionRow[]): NewTransactionRow[] {
  let { seq, hash } = head;
  return rows.map((row) => {
    seq += 1;
    const persistedAt = row.persistedAt ?? head.now;
    const stored = { ...row, persistedAt } as NewTransactionRow & { persistedAt: Date };
    hash = chainHash(hash, canonicalContent(scope, seq, toContent(stored)));
    return { ...stored, chainScope: scope, chainSeq: seq, chainHash: hash };
  });
}

function toContent(row: NewTransactionRow & { persistedAt: Date }): ChainContent {
  return {
    ...row,
    kafkaTopic: row.kafkaTopic ?? null,
    kafkaPartition: row.kafkaPartition ?? null,
    kafkaOffset: row.kafkaOffset ?? null,
    idempotencyFingerprint: row.idempotencyFingerprint ?? null,
  };
}

/**
 * Stores `rows` (ON CONFLICT (id) DO NOTHING), extending each scope's chain in the rows' order, scopes in name
 * order (so two transactions never wait for each other's heads the other way round). `insert` does the plain
 * insert and answers the ids that were new. Only new rows join a chain: a redelivered id takes no place in it.
 * The common case is one pass; when some ids were stored before (a redelivery), this transaction's new rows are
 * deleted and stored again, linked without the repeats. Call inside a transaction.
 */
export async function insertChained(
  db: Executor,
  rows: NewTransactionRow[],
  insert: (db: Executor, rows: NewTransactionRow[]) => Promise<Set<string>>,
): Promise<Set<string>> {
  const byScope = new Map<string, NewTransactionRow[]>();
  const seen = new Set<string>();
  for (const row of rows) {
    // The first of several records with one id is the one stored.
    if (seen.has(row.id)) continue;
    seen.add(row.id);
    const scope = chainScopeOf(row);
    const scoped = byScope.get(scope);
    if (scoped) scoped.push(row);
    else byScope.set(scope, [row]);
  }
  const inserted = new Set<string>();
  for (const scope of [...byScope.keys()].sort()) {
    const scoped = byScope.get(scope) as NewTransactionRow[];
    const head = await lockHead(db, scope);
    let linked = link(scope, head, scoped);
    let fresh = await insert(db, linked);
    if (fresh.size !== linked.length) {
      const ids = [...fresh];
      if (ids.length > 0) await db.execute(sql`delete from transactions where id = any(${sql.param(ids)}::uuid[])`);
      linked = link(
        scope,
        head,
        scoped.filter((row) => fresh.has(row.id)),
      );
      fresh = linked.length > 0 ? await insert(db, linked) : new Set();
      // Another transaction stored one of these ids in between: fail, and the batch is retried whole.
      if (fresh.size !== linked.length) throw new Error(`the chain of ${scope} changed while it was extended; retry`);
    }
    const last = linked.at(-1);
    if (last) {
      await db.execute(
        sql`update ${chainHeads} set seq = ${last.chainSeq}, hash = ${last.chainHash}, updated_at = now() where scope = ${scope}`,
      );
    }
    for (const id of fresh) inserted.add(id);
  }
  return inserted;
}
