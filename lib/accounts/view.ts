import { and, desc, eq, lte, type SQL, sql } from "drizzle-orm";
import { z } from "zod";
import type { Database } from "../db/client.js";
import { readDatabase } from "../db/reads.js";
import { type TransactionRow, transactions } from "../db/schema.js";
import { NotFoundError } from "../errors.js";
import { DEFAULT_REPORT_LIMIT, encodeCursor, ReportsQuery, toView } from "../reports/list.js";
import { AccountName } from "../transaction.js";
import { invalidInput } from "../validation.js";
import type { AccountTransaction, AccountView, BalanceMismatch } from "./schemas.js";

/** GET /accounts/{name}'s path. */
export const AccountParams = z.strictObject({ name: AccountName.meta({ description: "A nameOrig or nameDest." }) });

/** GET /accounts/{name}'s query: a page of the account's rows, as GET /reports pages. */
export const AccountQuery = z.strictObject({
  limit: ReportsQuery.shape.limit,
  cursor: ReportsQuery.shape.cursor,
  asOf: ReportsQuery.shape.asOf,
});
export type AccountQuery = z.output<typeof AccountQuery>;

export function parseAccountRequest(
  name: string | undefined,
  query: Record<string, string | undefined> | null | undefined,
): { name: string; query: AccountQuery } {
  const params = AccountParams.safeParse({ name }, { reportInput: true });
  if (!params.success) throw invalidInput("path", params.error);
  const parsed = AccountQuery.safeParse(query ?? {}, { reportInput: true });
  if (!parsed.success) throw invalidInput("query", parsed.error);
  return { name: params.data.name, query: parsed.data };
}

/** Exact cents of a NUMERIC(18, 2) as PostgreSQL prints it ("-12.30" too). */
const cents = (money: string): bigint => BigInt(money.replace(".", ""));
function formatCents(value: bigint): string {
  const digits = (value < 0n ? -value : value).toString().padStart(3, "0");
  return `${value < 0n ? "-" : ""}${digits.slice(0, -2)}.${digits.slice(-2)}`;
}

/** PaySim's legs: CASH_IN credits its origin and debits its destination; every other type the other way round. */
export function balanceMismatches(row: TransactionRow, account: string): BalanceMismatch[] {
  const mismatches: BalanceMismatch[] = [];
  const amount = cents(row.amount);
  const originSign = row.type === "CASH_IN" ? 1n : -1n;
  const check = (side: BalanceMismatch["side"], oldBalance: string, newBalance: string, sign: bigint) => {
    const expected = cents(oldBalance) + sign * amount;
    if (expected !== cents(newBalance)) {
      mismatches.push({ side, oldBalance, newBalance, expectedNewBalance: formatCents(expected) });
    }
  };
  if (row.nameOrig === account) check("origin", row.oldbalanceOrg, row.newbalanceOrig, originSign);
  // PaySim keeps no balances for merchants.
  if (row.nameDest === account && !account.startsWith("M"))
    check("destination", row.oldbalanceDest, row.newbalanceDest, -originSign);
  return mismatches;
}

function toAccountTransaction(row: TransactionRow, account: string): AccountTransaction {
  const asOrigin = row.nameOrig === account;
  const asDestination = row.nameDest === account;
  return {
    role: asOrigin && asDestination ? "both" : asOrigin ? "origin" : "destination",
    transaction: toView(row),
    balanceMismatches: balanceMismatches(row, account),
  };
}

const money = (expression: SQL) => sql<string>`coalesce(${expression}, 0)::numeric(38, 2)::text`;

/** The totals of one role (`side`: the column naming the account in that role). */
function roleTotals(side: SQL, mismatch: SQL) {
  const t = transactions;
  return {
    count: sql<number>`(count(*) filter (where ${side}))::int`,
    amount: money(sql`sum(${t.amount}) filter (where ${side})`),
    fraudCount: sql<number>`(count(*) filter (where ${side} and ${t.isFraud}))::int`,
    fraudAmount: money(sql`sum(${t.amount}) filter (where ${side} and ${t.isFraud})`),
    flaggedCount: sql<number>`(count(*) filter (where ${side} and ${t.isFlaggedFraud}))::int`,
    flaggedAmount: money(sql`sum(${t.amount}) filter (where ${side} and ${t.isFlaggedFraud})`),
    mismatches: sql<number>`(count(*) filter (where ${side} and ${mismatch}))::int`,
  };
}

interface RoleRow {
  count: number;
  amount: string;
  fraudCount: number;
  fraudAmount: string;
  flaggedCount: number;
  flaggedAmount: string;
  mismatches: number;
}
const toRoleTotals = (row: RoleRow) => ({
  count: row.count,
  amount: row.amount,
  fraud: { count: row.fraudCount, amount: row.fraudAmount },
  flaggedFraud: { count: row.flaggedCount, amount: row.flaggedAmount },
  balanceMismatches: row.mismatches,
});

/**
 * The account's transactions as origin and as destination, newest first a keyset page at a time (one
 * index scan per role, merged), and totals over all of them. NotFoundError when no stored row names it.
 */
export async function viewAccount(name: string, query: AccountQuery, db?: Database): Promise<AccountView> {
  const t = transactions;
  const limit = query.limit ?? DEFAULT_REPORT_LIMIT;
  const common: SQL[] = [];
  if (query.asOf) common.push(lte(t.persistedAt, new Date(query.asOf)));
  const page: SQL[] = [...common];
  if (query.cursor) {
    page.push(sql`(${t.receivedAt}, ${t.id}) < (${query.cursor.receivedAt}::timestamptz, ${query.cursor.id}::uuid)`);
  }
  const asOrigin = sql`${t.nameOrig} = ${name}`;
  const asDestination = sql`${t.nameDest} = ${name}`;
  const originCredit = sql`${t.type} = 'CASH_IN'`;
  const originMismatch = sql`${t.newbalanceOrig} <> case when ${originCredit} then ${t.oldbalanceOrg} + ${t.amount} else ${t.oldbalanceOrg} - ${t.amount} end`;
  const destinationMismatch = sql`${t.nameDest} not like 'M%' and ${t.newbalanceDest} <> case when ${originCredit} then ${t.oldbalanceDest} - ${t.amount} else ${t.oldbalanceDest} + ${t.amount} end`;

  const { origin, destination, totals } = await readDatabase(async (reader) => {
    const side = (column: typeof t.nameOrig | typeof t.nameDest) =>
      reader
        .select()
        .from(t)
        .where(and(eq(column, name), ...page))
        .orderBy(desc(t.receivedAt), desc(t.id))
        .limit(limit + 1);
    const [originRows, destinationRows, [totalsRow]] = [
      await side(t.nameOrig),
      await side(t.nameDest),
      await reader
        .select({
          origin: sql<RoleRow>`json_build_object(${sql.join(jsonFields(roleTotals(asOrigin, originMismatch)), sql`, `)})`,
          destination: sql<RoleRow>`json_build_object(${sql.join(jsonFields(roleTotals(asDestination, destinationMismatch)), sql`, `)})`,
        })
        .from(t)
        .where(and(sql`(${asOrigin} or ${asDestination})`, ...common)),
    ];
    return { origin: originRows, destination: destinationRows, totals: totalsRow };
  }, db);

  if (!totals || totals.origin.count + totals.destination.count === 0) {
    throw new NotFoundError(`no stored transaction names account ${name}${query.asOf ? ` as of ${query.asOf}` : ""}`);
  }
  const merged = new Map<string, TransactionRow>();
  for (const row of [...origin, ...destination]) merged.set(row.id, row);
  const rows = [...merged.values()].sort(
    (a, b) => b.receivedAt.getTime() - a.receivedAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0),
  );
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return {
    account: name,
    asOf: query.asOf ? new Date(query.asOf).toISOString() : null,
    totals: { asOrigin: toRoleTotals(totals.origin), asDestination: toRoleTotals(totals.destination) },
    items: items.map((row) => toAccountTransaction(row, name)),
    nextCursor: rows.length > limit && last ? encodeCursor({ receivedAt: last.receivedAt.toISOString(), id: last.id }) : null,
  };
}

function jsonFields(fields: Record<string, SQL>): SQL[] {
  return Object.entries(fields).map(([key, expression]) => sql`${key}::text, ${expression}`);
}
