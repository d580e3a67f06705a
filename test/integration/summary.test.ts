import { randomInt } from "node:crypto";
import { inArray } from "drizzle-orm";
import pg from "pg";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { closeDb, getDb } from "../../lib/db/client.js";
import { type NewTransactionRow, transactions } from "../../lib/db/schema.js";
import { insertTransactions } from "../../lib/db/transactions.js";
import { MAX_SUMMARY_STEPS, type Summary, SummaryResponse } from "../../lib/reports/schemas.js";
import { summarizeTransactions } from "../../lib/reports/summary.js";
import {
  TRANSACTION_STATUSES,
  TRANSACTION_TYPES,
  type TransactionInput,
  TransactionInput as TransactionInputSchema,
  type TransactionStatus,
  type TransactionType,
} from "../../lib/transaction.js";
import { type OfflineServer, startOffline } from "../support/offline.js";

/**
 * GET /reports/summary over HTTP against rows inserted directly, in a block of steps no other test
 * uses. Expected totals are computed twice, independently of the endpoint: exact BigInt cents in
 * this file, and a plain SQL query per filter.
 */

const FIRST_STEP = 600_000 + randomInt(0, 300_000);
const steps = [FIRST_STEP, FIRST_STEP + 1, FIRST_STEP + 2, FIRST_STEP + 3] as const;

interface Fixture {
  step: number;
  type: TransactionType;
  amount: string | number;
  status: TransactionStatus;
  isFraud?: boolean;
  isFlaggedFraud?: boolean;
}

// Amounts a float gets wrong: 0.1 + 0.2, 16-digit values, PaySim's E-notation.
const tricky: Fixture[] = [
  { step: steps[0], type: "PAYMENT", amount: 0.1, status: "Historical" },
  { step: steps[0], type: "PAYMENT", amount: "0.2", status: "Completed" },
  { step: steps[1], type: "TRANSFER", amount: "9999999999999999.99", status: "Completed", isFraud: true, isFlaggedFraud: true },
  { step: steps[1], type: "CASH_OUT", amount: "9999999999999999.99", status: "Completed", isFraud: true },
  { step: steps[2], type: "TRANSFER", amount: "1.916920493E7", status: "Historical" },
  { step: steps[2], type: "DEBIT", amount: "0.01", status: "Historical", isFraud: true },
  { step: steps[3], type: "CASH_IN", amount: "1234567890123456.78", status: "Completed" },
];

function randomFixture(): Fixture {
  const cents = BigInt(randomInt(0, 2 ** 40)) * 1000n + BigInt(randomInt(0, 1000));
  return {
    step: steps[randomInt(0, steps.length)] ?? FIRST_STEP,
    type: TRANSACTION_TYPES[randomInt(0, TRANSACTION_TYPES.length)] ?? "PAYMENT",
    amount: formatCents(cents),
    status: TRANSACTION_STATUSES[randomInt(0, TRANSACTION_STATUSES.length)] ?? "Completed",
    isFraud: randomInt(0, 10) === 0,
    isFlaggedFraud: randomInt(0, 20) === 0,
  };
}

function toRow(fixture: Fixture, index: number): NewTransactionRow {
  const input: TransactionInput = {
    step: fixture.step,
    type: fixture.type,
    amount: fixture.amount,
    nameOrig: `C${900000000 + index}`,
    oldbalanceOrg: "0",
    newbalanceOrig: "0",
    nameDest: `M${800000000 + index}`,
    oldbalanceDest: "0",
    newbalanceDest: "0",
    isFraud: fixture.isFraud ?? false,
    isFlaggedFraud: fixture.isFlaggedFraud ?? false,
  };
  const transaction = TransactionInputSchema.parse(input);
  return { id: uuidv7(), ...transaction, status: fixture.status, receivedAt: new Date() };
}

const cents = (amount: string): bigint => {
  const [whole = "0", fraction = ""] = amount.split(".");
  return BigInt(whole) * 100n + BigInt(fraction.padEnd(2, "0").slice(0, 2));
};
function formatCents(value: bigint): string {
  const text = value.toString().padStart(3, "0");
  return `${text.slice(0, -2)}.${text.slice(-2)}`;
}

interface Filter {
  stepFrom?: number;
  stepTo?: number;
  type?: TransactionType;
  status?: TransactionStatus;
}

/** The summary the endpoint must answer, computed here with BigInt cents over the fixture rows. */
function expectedSummary(rows: NewTransactionRow[], filter: Filter): Summary {
  const matching = rows.filter(
    (row) =>
      (filter.stepFrom === undefined || row.step >= filter.stepFrom) &&
      (filter.stepTo === undefined || row.step <= filter.stepTo) &&
      (filter.type === undefined || row.type === filter.type) &&
      (filter.status === undefined || row.status === filter.status),
  );
  const volume = (subset: NewTransactionRow[]) => ({
    count: subset.length,
    amount: formatCents(subset.reduce((sum, row) => sum + cents(row.amount), 0n)),
  });
  const groups = <K extends string | number>(key: (row: NewTransactionRow) => K, order: readonly K[]) =>
    order
      .filter((value) => matching.some((row) => key(row) === value))
      .map((value) => ({
        value,
        ...volume(matching.filter((row) => key(row) === value)),
      }));
  return {
    filter: {
      stepFrom: filter.stepFrom ?? null,
      stepTo: filter.stepTo ?? null,
      type: filter.type ?? null,
      status: filter.status ?? null,
    },
    ...volume(matching),
    byType: groups((row) => row.type, TRANSACTION_TYPES).map(({ value, ...rest }) => ({ type: value, ...rest })),
    byStatus: groups((row) => row.status, TRANSACTION_STATUSES).map(({ value, ...rest }) => ({ status: value, ...rest })),
    fraud: volume(matching.filter((row) => row.isFraud)),
    flaggedFraud: volume(matching.filter((row) => row.isFlaggedFraud)),
    byStep: groups((row) => row.step, steps).map(({ value, ...rest }) => ({ step: value, ...rest })),
  };
}

function queryString(filter: Filter): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(filter)) if (value !== undefined) params.set(key, String(value));
  return params.toString();
}

let server: OfflineServer;
let rows: NewTransactionRow[];
let sqlClient: pg.Client;

beforeAll(async () => {
  rows = [...tricky, ...Array.from({ length: 300 }, randomFixture)].map(toRow);
  expect(await insertTransactions(getDb(), rows)).toBe(rows.length);
  sqlClient = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await sqlClient.connect();
  server = await startOffline();
});

afterAll(async () => {
  await server?.stop();
  await getDb()
    .delete(transactions)
    .where(
      inArray(
        transactions.id,
        rows.map((row) => row.id as string),
      ),
    );
  await sqlClient?.end();
  await closeDb();
});

/** The same totals by a query written here, not by lib/summary.ts. */
async function sqlTotals(filter: Filter): Promise<{ count: number; amount: string }> {
  const {
    rows: [result],
  } = await sqlClient.query<{ count: string; amount: string }>(
    `select count(*) as count, coalesce(sum(amount), 0)::numeric(30, 2)::text as amount from transactions
      where step between $1 and $2 and ($3::text is null or type = $3) and ($4::text is null or status = $4)`,
    [filter.stepFrom ?? 0, filter.stepTo ?? 2_000_000_000, filter.type ?? null, filter.status ?? null],
  );
  return { count: Number(result?.count), amount: result?.amount ?? "" };
}

async function getSummary(filter: Filter): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${server.baseUrl}/reports/summary?${queryString(filter)}`, { headers: server.headers() });
  return { status: response.status, body: await response.json() };
}

describe("GET /reports/summary", () => {
  it("uses amounts whose float sums are wrong, so the exact sums below mean something", () => {
    expect(0.1 + 0.2).not.toBe(0.3);
    const sixteenDigits = Number("9999999999999999.99");
    expect(String(sixteenDigits + sixteenDigits)).not.toBe("19999999999999999.98");
  });

  it.each<[string, Filter]>([
    ["all fixture steps", { stepFrom: steps[0], stepTo: steps[3] }],
    ["0.1 + 0.2 in one step", { stepFrom: steps[0], stepTo: steps[0] }],
    ["16-digit amounts", { stepFrom: steps[1], stepTo: steps[1] }],
    ["a step range and a type", { stepFrom: steps[1], stepTo: steps[2], type: "TRANSFER" }],
    ["a status", { stepFrom: steps[0], stepTo: steps[3], status: "Completed" }],
    ["a type and a status", { stepFrom: steps[0], stepTo: steps[3], type: "CASH_OUT", status: "Completed" }],
    ["only stepFrom (open end)", { stepFrom: steps[2] }],
    ["no matching rows", { stepFrom: steps[3] + 1, stepTo: steps[3] + 100 }],
  ])("totals over %s equal sums computed independently", async (_, filter) => {
    const { status, body } = await getSummary(filter);
    expect(status).toBe(200);
    const summary = SummaryResponse.parse(body);
    expect(summary).toEqual(expectedSummary(rows, filter));
    const independent = await sqlTotals({ stepTo: steps[3] + 100, ...filter });
    expect({ count: summary.count, amount: summary.amount }).toEqual(independent);
  });

  it("adds 0.1 and 0.2 to exactly 0.30, and two 9999999999999999.99 to exactly 19999999999999999.98", async () => {
    const first = SummaryResponse.parse((await getSummary({ stepFrom: steps[0], stepTo: steps[0], type: "PAYMENT" })).body);
    const payments = rows.filter((row) => row.step === steps[0] && row.type === "PAYMENT");
    const expected = formatCents(payments.reduce((sum, row) => sum + cents(row.amount), 0n));
    expect(first.amount).toBe(expected);
    const big = SummaryResponse.parse((await getSummary({ stepFrom: steps[1], stepTo: steps[1], status: "Completed" })).body);
    const bigRows = rows.filter((row) => row.step === steps[1] && row.status === "Completed");
    expect(big.amount).toBe(formatCents(bigRows.reduce((sum, row) => sum + cents(row.amount), 0n)));
    expect(cents(big.amount)).toBeGreaterThanOrEqual(1999999999999999998n);
  });

  it.each<[string, string, string]>([
    ["stepFrom=5&stepTo=2", "stepFrom", "stepFrom must not be greater than stepTo"],
    ["stepFrom=abc", "stepFrom", "must be a whole number"],
    ["type=WIRE", "type", "Invalid option"],
    ["status=Pending", "status", "Invalid option"],
    ["stepfrom=1", "stepfrom", "unknown field"],
  ])("answers 400 naming the bad parameter for ?%s", async (query, field, reason) => {
    const response = await fetch(`${server.baseUrl}/reports/summary?${query}`, { headers: server.headers() });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { issues?: { field: string; reason: string }[] };
    expect(body.issues).toEqual([expect.objectContaining({ field, reason: expect.stringContaining(reason) })]);
  });
});

describe("byStep's cap", () => {
  it("lists the lowest 1,000 steps and says byStepTruncated when more steps have rows", async () => {
    // Below the block the other tests use (600,000+, some with an open end), and deleted afterwards.
    const first = 300_000 + randomInt(0, 200_000);
    const base = {
      type: "DEBIT" as const,
      amount: "1.00",
      nameOrig: "C1",
      oldbalanceOrg: "1.00",
      newbalanceOrig: "0.00",
      nameDest: "M1",
      oldbalanceDest: "0.00",
      newbalanceDest: "0.00",
      isFraud: false,
      isFlaggedFraud: false,
      status: "Historical" as const,
      receivedAt: new Date(),
    };
    const rows: NewTransactionRow[] = Array.from({ length: MAX_SUMMARY_STEPS + 1 }, (_, index) => ({
      ...base,
      id: uuidv7(),
      step: first + index,
    }));
    await insertTransactions(getDb(), rows);
    onTestFinished(async () => {
      await getDb()
        .delete(transactions)
        .where(
          inArray(
            transactions.id,
            rows.map((row) => row.id),
          ),
        );
    });
    const summary = await summarizeTransactions({ stepFrom: first, stepTo: first + MAX_SUMMARY_STEPS });
    expect(summary.count).toBe(MAX_SUMMARY_STEPS + 1);
    expect(summary.byStep).toHaveLength(MAX_SUMMARY_STEPS);
    expect(summary.byStep[0]?.step).toBe(first);
    expect(summary.byStepTruncated).toBe(true);
    expect(SummaryResponse.parse(summary)).toEqual(summary);
    const exact = await summarizeTransactions({ stepFrom: first, stepTo: first + MAX_SUMMARY_STEPS - 1 });
    expect(exact.byStep).toHaveLength(MAX_SUMMARY_STEPS);
    expect(exact.byStepTruncated).toBeUndefined();
  });
});
