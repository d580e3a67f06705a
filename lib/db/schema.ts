import { sql } from "drizzle-orm";
import {
  bigint,
  bigserial,
  boolean,
  index,
  integer,
  numeric,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

/** NUMERIC(18, 2) read and written as exact decimal strings, never JS numbers. */
const money = (name: string) => numeric(name, { precision: 18, scale: 2 }).notNull();

export const transactions = pgTable(
  "transactions",
  {
    id: uuid("id").primaryKey(),
    step: integer("step").notNull(),
    type: text("type", { enum: ["CASH_IN", "CASH_OUT", "DEBIT", "PAYMENT", "TRANSFER"] }).notNull(),
    amount: money("amount"),
    nameOrig: text("name_orig").notNull(),
    oldbalanceOrg: money("old_balance_orig"),
    newbalanceOrig: money("new_balance_orig"),
    nameDest: text("name_dest").notNull(),
    oldbalanceDest: money("old_balance_dest"),
    newbalanceDest: money("new_balance_dest"),
    isFraud: boolean("is_fraud").notNull(),
    isFlaggedFraud: boolean("is_flagged_fraud").notNull(),
    status: text("status", { enum: ["Historical", "Completed"] }).notNull(),
    /** When the API accepted it (or the seed read it). */
    receivedAt: timestamp("received_at", { withTimezone: true, mode: "date", precision: 3 }).notNull(),
    /** When the consumer stored it: its clock, one instant a batch (lib/db/chain.ts hashes it with the row). */
    persistedAt: timestamp("persisted_at", { withTimezone: true, mode: "date", precision: 3 }).notNull().defaultNow(),
    /** Where it came from in Kafka; null for seeded rows. */
    kafkaTopic: text("kafka_topic"),
    kafkaPartition: integer("kafka_partition"),
    kafkaOffset: bigint("kafka_offset", { mode: "number" }),
    /** sha256 of the request body when the client sent an Idempotency-Key (lib/idempotency.ts); else null. */
    idempotencyFingerprint: text("idempotency_fingerprint"),
    /** The hash chain (lib/db/chain.ts): which chain, the place in it, sha256 of the previous hash and the content. */
    chainScope: text("chain_scope").generatedAlwaysAs(sql`coalesce(kafka_topic || '-' || kafka_partition, 'historical')`),
    chainSeq: bigint("chain_seq", { mode: "number" }),
    chainHash: text("chain_hash"),
  },
  (table) => [
    // Reports page newest first with a (received_at, id) keyset cursor, optionally filtered: one index per
    // filter, each in the page's order (lib/reports/list.ts orders DESC NULLS LAST to match them), checked
    // against the plans in test/integration/read-plans.test.ts.
    index("transactions_received_idx").on(table.receivedAt.desc(), table.id.desc()),
    // One per status rather than (status, received_at, id): status follows received_at (every Historical row
    // is older than every Completed one), which the planner cannot see, so with the composite index it would
    // scan the whole log by received_at filtering on status; a partial index is the smaller, exact match.
    index("transactions_completed_received_idx")
      .on(table.receivedAt.desc(), table.id.desc())
      .where(sql`${table.status} = 'Completed'`),
    index("transactions_historical_received_idx")
      .on(table.receivedAt.desc(), table.id.desc())
      .where(sql`${table.status} = 'Historical'`),
    index("transactions_type_received_idx").on(table.type, table.receivedAt.desc(), table.id.desc()),
    index("transactions_name_orig_received_idx").on(table.nameOrig, table.receivedAt.desc(), table.id.desc()),
    // GET /accounts/{name}: the account's rows as destination, newest first (as origin: the index above).
    index("transactions_name_dest_received_idx").on(table.nameDest, table.receivedAt.desc(), table.id.desc()),
    index("transactions_fraud_received_idx").on(table.receivedAt.desc(), table.id.desc()).where(sql`${table.isFraud}`),
    // One row per place in a chain; `npm run verify` reads each chain in this order.
    uniqueIndex("transactions_chain_idx").on(table.chainScope, table.chainSeq),
  ],
);

/**
 * What GET /reports/summary adds up, kept current by triggers on transactions (drizzle/0004_*.sql) in the
 * same database transaction as the rows, whoever inserts them: one row per (step, type, status, shard) with
 * the row count and exact amount sums. shard is the Kafka partition modulo 16 (0 for seeded rows),
 * so batches of different partitions committing at once update different rows and never wait on each other.
 */
export const transactionTotals = pgTable(
  "transaction_totals",
  {
    step: integer("step").notNull(),
    type: text("type", { enum: ["CASH_IN", "CASH_OUT", "DEBIT", "PAYMENT", "TRANSFER"] }).notNull(),
    status: text("status", { enum: ["Historical", "Completed"] }).notNull(),
    shard: smallint("shard").notNull(),
    count: bigint("count", { mode: "number" }).notNull(),
    // Scale 2 like the amounts: a sum of them, printed with 2 decimals even when it is 0.
    amount: numeric("amount", { precision: 38, scale: 2 }).notNull(),
    fraudCount: bigint("fraud_count", { mode: "number" }).notNull(),
    fraudAmount: numeric("fraud_amount", { precision: 38, scale: 2 }).notNull(),
    flaggedFraudCount: bigint("flagged_fraud_count", { mode: "number" }).notNull(),
    flaggedFraudAmount: numeric("flagged_fraud_amount", { precision: 38, scale: 2 }).notNull(),
  },
  (table) => [primaryKey({ columns: [table.step, table.type, table.status, table.shard] })],
);

/** The last link of each chain (lib/db/chain.ts): a deleted last row or one added after it does not match. */
export const chainHeads = pgTable("chain_heads", {
  scope: text("scope").primaryKey(),
  seq: bigint("seq", { mode: "number" }).notNull(),
  hash: text("hash").notNull(),
  createdAt: timestamp("created_at", { withTimezone: true, mode: "date", precision: 3 }).notNull().defaultNow(),
  updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date", precision: 3 }).notNull().defaultNow(),
});

export type TransactionRow = typeof transactions.$inferSelect;
export type NewTransactionRow = typeof transactions.$inferInsert;

/**
 * Records the consumer could not store (undecodable, invalid, oversized, conflicting ids), kept with the reason;
 * also the trigger's on-failure records (function-error, function-timeout), imported from the dead-letter topic
 * by `npm run dead-letters` (scripts/dead-letters/).
 */
export const deadLetters = pgTable(
  "dead_letters",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    topic: text("topic").notNull(),
    partition: integer("partition").notNull(),
    offset: bigint("offset", { mode: "number" }).notNull(),
    key: text("key"),
    /** The raw value, base64 as Kafka delivered it. */
    value: text("value"),
    reason: text("reason").notNull(),
    detail: text("detail").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date", precision: 3 }).notNull().defaultNow(),
    /** When `npm run dead-letters -- redrive` last produced the record to its source topic again; null: never. */
    redrivenAt: timestamp("redriven_at", { withTimezone: true, mode: "date", precision: 3 }),
    /** The transaction's id when the record names one (GET /transactions/{id} tells a client it was dead-lettered). */
    transactionId: uuid("transaction_id"),
  },
  (table) => [
    // Redelivery of the same offset must not add a second dead letter.
    uniqueIndex("dead_letters_source_idx").on(table.topic, table.partition, table.offset),
    index("dead_letters_transaction_idx").on(table.transactionId).where(sql`${table.transactionId} is not null`),
  ],
);
