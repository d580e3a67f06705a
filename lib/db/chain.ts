import { hash } from "node:crypto";
import { sql } from "drizzle-orm";
import type { Database } from "./client.js";
import { chainHeads, type NewTransactionRow, type TransactionRow } from "./schema.js";
import type { InsertOptions } from "./transactions.js";

/**
 * Tamper evidence: every stored transaction carries chain_hash = sha256(previous hash + "\n" + its canonical
 * content), chain_seq (1, 2, 3, ... within its scope) and chain_scope (generated from its Kafka columns).
 * chain_heads holds each scope's last (seq, hash). A row edited, deleted or inserted by hand no longer
 * recomputes (`npm run verify`).
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
  const point = plain.indexOf(".");
  if (point < 0) return `${plain}.00`;
  const decimals = plain.length - point - 1;
  return decimals >= 2 ? plain : `${plain}${"0".repeat(2 - decimals)}`;
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
> &
  Partial<Pick<TransactionRow, "kafkaTopic" | "kafkaPartition" | "kafkaOffset" | "idempotencyFingerprint">>;

const text = (value: string) => JSON.stringify(value);
const orNull = <T>(value: T | null | undefined, write: (value: T) => string) =>
  value === null || value === undefined ? "null" : write(value);

/**
 * The canonical serialisation (version 1): a JSON array in this fixed order, money as exact decimal strings with 2
 * decimals, instants as ISO 8601 UTC with milliseconds, absent Kafka coordinates and fingerprint as null. The
 * scope and position are part of it, so a row cannot be moved to another place or chain. Written field by field
 * (the consumer hashes every row): the same text as JSON.stringify of that array (test/unit/chain.test.ts).
 */
export function canonicalContent(scope: string, seq: number, row: ChainContent): string {
  return canonical(scope, seq, row, row.persistedAt.toISOString());
}

function canonical(scope: string, seq: number, row: Omit<ChainContent, "persistedAt">, persistedAt: string): string {
  return (
    `["${CHAIN_VERSION}",${text(scope)},${seq},"${row.id.toLowerCase()}",${row.step},"${row.type}","${money2(row.amount)}",` +
    `${text(row.nameOrig)},"${money2(row.oldbalanceOrg)}","${money2(row.newbalanceOrig)}",${text(row.nameDest)},` +
    `"${money2(row.oldbalanceDest)}","${money2(row.newbalanceDest)}",${row.isFraud},${row.isFlaggedFraud},"${row.status}",` +
    `"${row.receivedAt.toISOString()}","${persistedAt}",${orNull(row.kafkaTopic, text)},` +
    `${orNull(row.kafkaPartition, String)},${orNull(row.kafkaOffset, String)},${orNull(row.idempotencyFingerprint, text)}]`
  );
}

export function chainHash(previousHash: string, canonical: string): string {
  return hash("sha256", `${previousHash}\n${canonical}`, "hex");
}

type Executor = Pick<Database, "execute">;
type Insert = (db: Executor, rows: NewTransactionRow[], options: InsertOptions) => Promise<Set<string>>;
/** Stores linked rows with no conflict check (COPY, lib/db/copy.ts); false when an id was stored before, nothing stored. */
export type CopyRows = (rows: NewTransactionRow[], persistedAt: Date) => Promise<boolean>;

interface Head {
  seq: number;
  hash: string;
}

/**
 * The heads this process last moved. A batch first trusts them: one statement locks the heads that still hold
 * these values, inserts the rows only if all of them do, and moves the heads only if every row was new. Anything
 * else (another process moved a head, a redelivered id) falls back to reading and locking the heads first.
 */
const knownHeads = new Map<string, Head>();

/** Locks the scopes' heads for the rest of the transaction, in name order, creating each at the genesis. */
async function lockHeads(db: Executor, scopes: string[]): Promise<Map<string, Head>> {
  const values = sql.join(
    scopes.map((scope) => sql`(${scope}, 0, ${GENESIS_HASH})`),
    sql`, `,
  );
  const { rows } = await db.execute<{ scope: string; seq: string; hash: string }>(
    sql`insert into ${chainHeads} (scope, seq, hash) values ${values}
        on conflict (scope) do update set scope = excluded.scope returning scope, seq, hash`,
  );
  return new Map(rows.map((row) => [row.scope, { seq: Number(row.seq), hash: row.hash }]));
}

/**
 * Each scope's rows (in the order they are stored) given their places in its chain after its head: the chain
 * columns are set on the rows themselves (no copies: the consumer links every row it stores).
 */
function link(byScope: Map<string, NewTransactionRow[]>, heads: Map<string, Head>, now: Date): NewTransactionRow[] {
  const linked: NewTransactionRow[] = [];
  const nowIso = now.toISOString();
  for (const [scope, rows] of byScope) {
    let { seq, hash: previous } = heads.get(scope) as Head;
    for (const row of rows) {
      seq += 1;
      previous = chainHash(previous, canonical(scope, seq, row, row.persistedAt ? row.persistedAt.toISOString() : nowIso));
      row.chainSeq = seq;
      row.chainHash = previous;
      linked.push(row);
    }
  }
  return linked;
}

/** The last link of each scope that has rows, as link() set it on its last row. */
function lastLinks(byScope: Map<string, NewTransactionRow[]>): Map<string, Head> {
  const last = new Map<string, Head>();
  for (const [scope, rows] of byScope) {
    const row = rows.at(-1);
    if (row) last.set(scope, { seq: row.chainSeq as number, hash: row.chainHash as string });
  }
  return last;
}

const headArrays = (heads: Map<string, Head>) =>
  sql`unnest(${sql.param([...heads.keys()])}::text[], ${sql.param([...heads.values()].map((head) => head.seq))}::bigint[], ${sql.param([...heads.values()].map((head) => head.hash))}::text[])`;

async function moveHeads(db: Executor, moved: Map<string, Head>): Promise<void> {
  if (moved.size === 0) return;
  await db.execute(
    sql`update ${chainHeads} set seq = moved.seq, hash = moved.hash, updated_at = now()
        from ${headArrays(moved)} as moved(scope, seq, hash) where chain_heads.scope = moved.scope`,
  );
  for (const [scope, head] of moved) knownHeads.set(scope, head);
}

/** Locks the heads that still hold the values this process knows; true when all of them did. */
async function lockKnownHeads(db: Executor, known: Map<string, Head>): Promise<boolean> {
  const { rows } = await db.execute<{ locked: number }>(
    sql`select count(*)::int as locked from (
          select h.scope from ${chainHeads} h join ${headArrays(known)} as known(scope, seq, hash)
            on h.scope = known.scope and h.seq = known.seq and h.hash = known.hash
          order by h.scope for update of h) as heads`,
  );
  return rows[0]?.locked === known.size;
}

/** The one statement of a batch whose heads this process knows: lock them if unchanged, insert, move them. */
function guarded(expected: Map<string, Head>, moved: Map<string, Head>, rows: number): InsertOptions["wrap"] {
  return {
    onlyIf: sql`(select count(*) from locked) = ${expected.size}`,
    statement: (insert) =>
      sql`with locked as (
            select h.scope from ${chainHeads} h join ${headArrays(expected)} as known(scope, seq, hash)
              on h.scope = known.scope and h.seq = known.seq and h.hash = known.hash
            order by h.scope for update of h),
          inserted as (${insert}),
          moved as (
            update ${chainHeads} set seq = moved.seq, hash = moved.hash, updated_at = now()
            from ${headArrays(moved)} as moved(scope, seq, hash)
            where chain_heads.scope = moved.scope and (select count(*) from inserted) = ${rows})
          select id from inserted`,
  };
}

/**
 * Stores `rows` (ON CONFLICT (id) DO NOTHING), extending each scope's chain in the rows' order; `insert` stores
 * them and answers the ids that were new. Only new rows join a chain: a redelivered id takes no place in it. In the
 * common case this is one statement (see knownHeads); else the heads are locked first (in name order, so two
 * transactions never wait for each other the other way round), and when some ids were stored before, this
 * transaction's new rows are deleted and stored again, linked without the repeats. Call inside a transaction.
 */
export async function insertChained(
  db: Executor,
  rows: NewTransactionRow[],
  insert: Insert,
  maxRowsPerStatement: number,
  copy?: CopyRows,
) {
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
  if (byScope.size === 0) return new Set<string>();
  const scopes = [...byScope.keys()].sort();
  const now = new Date();
  const known = new Map(scopes.flatMap((scope) => (knownHeads.has(scope) ? [[scope, knownHeads.get(scope) as Head]] : [])));
  let heads: Map<string, Head> | undefined;
  let fresh = new Set<string>();
  let linked: NewTransactionRow[] = [];
  if (copy) {
    // Heads locked (as known, or as read), the rows copied; a redelivered id makes the copy store nothing and
    // the rows go the INSERT ... ON CONFLICT way below, with the heads still locked.
    heads = known.size === scopes.length && (await lockKnownHeads(db, known)) ? known : await lockHeads(db, scopes);
    for (const [scope, head] of heads) knownHeads.set(scope, head);
    linked = link(byScope, heads, now);
    if (await copy(linked, now)) {
      await moveHeads(db, lastLinks(byScope));
      return new Set(linked.map((row) => row.id));
    }
    fresh = await insert(db, linked, { persistedAt: now });
  } else if (known.size === scopes.length && seen.size <= maxRowsPerStatement) {
    linked = link(byScope, known, now);
    const moved = lastLinks(byScope);
    fresh = await insert(db, linked, { persistedAt: now, wrap: guarded(known, moved, linked.length) });
    if (fresh.size === linked.length) {
      for (const [scope, head] of moved) knownHeads.set(scope, head);
      return fresh;
    }
    // Rows went in: the heads were as known, and are locked, but not moved (some ids were stored before).
    if (fresh.size > 0) heads = known;
  }
  if (!heads) {
    heads = await lockHeads(db, scopes);
    for (const [scope, head] of heads) knownHeads.set(scope, head);
    linked = link(byScope, heads, now);
    fresh = await insert(db, linked, { persistedAt: now });
  }
  if (fresh.size !== linked.length) {
    const ids = [...fresh];
    if (ids.length > 0) await db.execute(sql`delete from transactions where id = any(${sql.param(ids)}::uuid[])`);
    for (const [scope, scoped] of byScope)
      byScope.set(
        scope,
        scoped.filter((row) => fresh.has(row.id)),
      );
    linked = link(byScope, heads, now);
    fresh = linked.length > 0 ? await insert(db, linked, { persistedAt: now }) : new Set<string>();
    // Another transaction stored one of these ids in between: fail, and the batch is retried whole.
    if (fresh.size !== linked.length) throw new Error("the chains changed while they were extended; retry");
  }
  await moveHeads(db, lastLinks(byScope));
  return fresh;
}
