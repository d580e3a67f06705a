import { and, desc, eq, lte, type SQL, sql } from "drizzle-orm";
import { z } from "zod";
import type { Database } from "../db/client.js";
import { readDatabase } from "../db/reads.js";
import { deadLetters, type TransactionRow, transactions } from "../db/schema.js";
import { InvalidInputError, NotFoundError, TransactionDeadLetteredError } from "../errors.js";
import { ReceivedAt, TRANSACTION_STATUSES, TRANSACTION_TYPES } from "../transaction.js";
import { invalidInput } from "../validation.js";
import type { ReportPage, StoredTransaction } from "./schemas.js";

export const DEFAULT_REPORT_LIMIT = 100;
export const MAX_REPORT_LIMIT = 1_000;

/** The keyset position after which the next page starts: the last item's (receivedAt, id). */
interface CursorPosition {
  receivedAt: string;
  id: string;
}

/** The same ranges as the data: a cursor can only name an instant a stored row could have (400, never a 500). */
const CursorPosition = z.tuple([ReceivedAt, z.uuid()]);
/** A real cursor is about 90 characters; anything much longer is not one of ours, and is not decoded. */
export const MAX_CURSOR_CHARS = 200;

/** Opaque to clients: base64url of [receivedAt, id]. */
export function encodeCursor(position: CursorPosition): string {
  return Buffer.from(JSON.stringify([position.receivedAt, position.id])).toString("base64url");
}

export function decodeCursor(cursor: string): CursorPosition | undefined {
  if (cursor.length > MAX_CURSOR_CHARS) return undefined;
  try {
    const parsed = CursorPosition.safeParse(JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")));
    return parsed.success ? { receivedAt: parsed.data[0], id: parsed.data[1] } : undefined;
  } catch {
    return undefined;
  }
}

const BooleanParam = z.enum(["true", "false"], { error: "expected true or false" }).transform((value) => value === "true");

/** GET /reports query parameters. Unknown ones are rejected, so a typo never silently returns everything. */
export const ReportsQuery = z.strictObject({
  limit: z.coerce
    .number({ error: "expected an integer" })
    .int("expected an integer")
    .min(1, "at least 1")
    .max(MAX_REPORT_LIMIT, `at most ${MAX_REPORT_LIMIT}`)
    .default(DEFAULT_REPORT_LIMIT),
  cursor: z
    .string()
    .transform((value, ctx) => {
      const position = decodeCursor(value);
      if (!position) {
        ctx.addIssue({ code: "custom", message: "not a cursor returned by this API" });
        return z.NEVER;
      }
      return position;
    })
    .optional(),
  status: z.enum(TRANSACTION_STATUSES, { error: `one of ${TRANSACTION_STATUSES.join(", ")}` }).optional(),
  type: z.enum(TRANSACTION_TYPES, { error: `one of ${TRANSACTION_TYPES.join(", ")}` }).optional(),
  isFraud: BooleanParam.optional(),
  nameOrig: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, "1 to 64 letters, digits, '_' or '-'")
    .optional(),
  format: z
    .enum(["json", "csv"], { error: "json or csv" })
    .optional()
    .meta({
      description:
        "csv: the same rows as a CSV file (also when Accept names text/csv), up to 20,000 a response (`limit`, default 20,000), " +
        "the rest after the Next-Cursor response header.",
    }),
  asOf: ReceivedAt.optional().meta({
    description:
      "An instant (ISO 8601 with offset): only rows stored (persistedAt) at or before it, so a report can be run again as it was. " +
      "A row's persistedAt is its storing batch's instant (the consumer's clock), so an instant less than a few seconds old may still gain rows.",
  }),
});
export type ReportsQuery = z.output<typeof ReportsQuery>;

export function parseReportsQuery(query: Record<string, string | undefined> | null | undefined): ReportsQuery {
  const parsed = ReportsQuery.safeParse(query ?? {}, { reportInput: true });
  if (!parsed.success) throw invalidInput("query", parsed.error);
  return parsed.data;
}

export function toView(row: TransactionRow): StoredTransaction {
  return {
    id: row.id,
    step: row.step,
    type: row.type,
    amount: row.amount,
    nameOrig: row.nameOrig,
    oldbalanceOrg: row.oldbalanceOrg,
    newbalanceOrig: row.newbalanceOrig,
    nameDest: row.nameDest,
    oldbalanceDest: row.oldbalanceDest,
    newbalanceDest: row.newbalanceDest,
    isFraud: row.isFraud,
    isFlaggedFraud: row.isFlaggedFraud,
    status: row.status,
    receivedAt: row.receivedAt.toISOString(),
    persistedAt: row.persistedAt.toISOString(),
    kafka:
      row.kafkaTopic !== null && row.kafkaPartition !== null && row.kafkaOffset !== null
        ? { topic: row.kafkaTopic, partition: row.kafkaPartition, offset: row.kafkaOffset }
        : null,
  };
}

/**
 * The page order, spelled as the indexes of lib/db/schema.ts are declared: PostgreSQL matches an index to
 * an ORDER BY by its NULLS placement too, even on NOT NULL columns, and plain DESC means NULLS FIRST, which
 * no index serves (a sort of the whole table for every page).
 */
const NEWEST_FIRST = [sql`${transactions.receivedAt} desc nulls last`, sql`${transactions.id} desc nulls last`];

/**
 * Newest first by (received_at, id), a keyset page at a time. Each filter with the ordering matches
 * one index of lib/db/schema.ts (test/integration/read-plans.test.ts checks the plans); the row comparison
 * lets PostgreSQL start the index scan at the cursor.
 */
export async function listTransactions(query: ReportsQuery, db?: Database): Promise<ReportPage> {
  const conditions: SQL[] = [];
  if (query.status) conditions.push(eq(transactions.status, query.status));
  if (query.type) conditions.push(eq(transactions.type, query.type));
  if (query.isFraud !== undefined) conditions.push(eq(transactions.isFraud, query.isFraud));
  if (query.nameOrig) conditions.push(eq(transactions.nameOrig, query.nameOrig));
  if (query.asOf) conditions.push(lte(transactions.persistedAt, new Date(query.asOf)));
  if (query.cursor) {
    conditions.push(
      sql`(${transactions.receivedAt}, ${transactions.id}) < (${query.cursor.receivedAt}::timestamptz, ${query.cursor.id}::uuid)`,
    );
  }
  const rows = await readDatabase(
    (reader) =>
      reader
        .select()
        .from(transactions)
        .where(and(...conditions))
        .orderBy(...NEWEST_FIRST)
        .limit(query.limit + 1),
    db,
  );
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  return {
    items: page.map(toView),
    nextCursor:
      rows.length > query.limit && last ? encodeCursor({ receivedAt: last.receivedAt.toISOString(), id: last.id }) : null,
  };
}

/** GET /transactions/{id}'s path. */
export const TransactionIdParams = z.strictObject({
  id: z.uuid().meta({ description: "The id POST /transaction answered with." }),
});

export function parseTransactionId(id: string | undefined): string {
  const parsed = TransactionIdParams.shape.id.safeParse(id);
  if (!parsed.success) throw new InvalidInputError("path", [{ field: "id", reason: "expected a UUID" }]);
  return parsed.data.toLowerCase();
}

/** The stored row, or NotFoundError while the consumer has not stored it (yet). */
export async function getTransaction(id: string, db?: Database): Promise<StoredTransaction> {
  const { row, deadLetter } = await readDatabase(async (reader) => {
    const [stored] = await reader.select().from(transactions).where(eq(transactions.id, id)).limit(1);
    if (stored) return { row: stored, deadLetter: undefined };
    const [letter] = await reader
      .select({ reason: deadLetters.reason, detail: deadLetters.detail, createdAt: deadLetters.createdAt })
      .from(deadLetters)
      .where(eq(deadLetters.transactionId, id))
      .orderBy(desc(deadLetters.id))
      .limit(1);
    return { row: undefined, deadLetter: letter };
  }, db);
  if (row) return toView(row);
  if (deadLetter) throw new TransactionDeadLetteredError(id, deadLetter.reason, deadLetter.detail, deadLetter.createdAt);
  throw new NotFoundError(`no transaction ${id} is stored (yet); accepted transactions appear within seconds`);
}
