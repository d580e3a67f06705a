import { randomInt } from "node:crypto";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccountView } from "../../lib/accounts/schemas.js";
import { closeDb, getDb } from "../../lib/db/client.js";
import type { NewTransactionRow } from "../../lib/db/schema.js";
import { insertTransactions } from "../../lib/db/transactions.js";
import { ReportPage } from "../../lib/reports/schemas.js";
import type { TransactionType } from "../../lib/transaction.js";
import { type OfflineServer, startOffline } from "../support/offline.js";

/**
 * GET /accounts/{name} and GET /reports?asOf= over HTTP against rows inserted directly, under account names
 * unique to this run. Expected totals and balance flags are worked out here by hand, in exact cents.
 */

const runTag = String(randomInt(1e8, 1e9));
const account = `C${runTag}A`;
const other = `C${runTag}B`;
const merchant = `M${runTag}`;
const base = Date.parse("2032-01-01T00:00:00.000Z") + randomInt(0, 1_000_000) * 1000;

interface Fixture {
  type: TransactionType;
  amount: string;
  nameOrig: string;
  old: [string, string];
  nameDest: string;
  oldDest: [string, string];
  isFraud?: boolean;
  isFlaggedFraud?: boolean;
  /** Which of the account's sides do not add up. */
  mismatches: ("origin" | "destination")[];
}

const fixtures: Fixture[] = [
  // Origin debits: 100.00 - 30.00 = 70.00.
  {
    type: "PAYMENT",
    amount: "30.00",
    nameOrig: account,
    old: ["100.00", "70.00"],
    nameDest: merchant,
    oldDest: ["0.00", "0.00"],
    mismatches: [],
  },
  // PaySim floors at zero: 20.00 - 40.00 is not 0.00.
  {
    type: "TRANSFER",
    amount: "40.00",
    nameOrig: account,
    old: ["20.00", "0.00"],
    nameDest: other,
    oldDest: ["0.00", "40.00"],
    isFraud: true,
    isFlaggedFraud: true,
    mismatches: ["origin"],
  },
  // CASH_IN credits its origin: 50.00 + 0.10 = 50.10.
  {
    type: "CASH_IN",
    amount: "0.10",
    nameOrig: account,
    old: ["50.00", "50.10"],
    nameDest: other,
    oldDest: ["9.00", "1.00"],
    mismatches: [],
  },
  // Destination credited: 0.20 + 0.10 = 0.30 (floats say 0.30000000000000004).
  {
    type: "TRANSFER",
    amount: "0.10",
    nameOrig: other,
    old: ["0.10", "0.00"],
    nameDest: account,
    oldDest: ["0.20", "0.30"],
    isFraud: true,
    mismatches: [],
  },
  // CASH_IN debits its destination: 9999999999999999.99 - 0.99 is not 0.00.
  {
    type: "CASH_IN",
    amount: "0.99",
    nameOrig: other,
    old: ["0.00", "0.99"],
    nameDest: account,
    oldDest: ["9999999999999999.99", "0.00"],
    mismatches: ["destination"],
  },
];

const rows: NewTransactionRow[] = fixtures.map((fixture, index) => ({
  id: uuidv7(),
  step: index + 1,
  type: fixture.type,
  amount: fixture.amount,
  nameOrig: fixture.nameOrig,
  oldbalanceOrg: fixture.old[0],
  newbalanceOrig: fixture.old[1],
  nameDest: fixture.nameDest,
  oldbalanceDest: fixture.oldDest[0],
  newbalanceDest: fixture.oldDest[1],
  isFraud: fixture.isFraud ?? false,
  isFlaggedFraud: fixture.isFlaggedFraud ?? false,
  status: "Historical",
  receivedAt: new Date(base + index * 1000),
  // Stored an hour apart, so asOf can cut between them.
  persistedAt: new Date(base + index * 3_600_000),
}));

let server: OfflineServer;

beforeAll(async () => {
  await insertTransactions(getDb(), rows);
  server = await startOffline();
});

afterAll(async () => {
  await server?.stop();
  await closeDb();
});

async function get(path: string) {
  const response = await fetch(`${server.baseUrl}${path}`, { headers: server.headers() });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const cents = (amount: string) => BigInt(amount.replace(".", ""));
const sum = (list: Fixture[]) => {
  const total = list
    .reduce((acc, fixture) => acc + cents(fixture.amount), 0n)
    .toString()
    .padStart(3, "0");
  return `${total.slice(0, -2)}.${total.slice(-2)}`;
};

describe("GET /accounts/{name}", () => {
  it("answers the account's rows as origin and destination, newest first, with totals and balance flags", async () => {
    const response = await get(`/accounts/${account}`);
    expect(response.status).toBe(200);
    const view = AccountView.parse(response.body);
    expect(view.items.map((item) => item.transaction.id)).toEqual(rows.map((row) => row.id).reverse());
    const asOrigin = fixtures.filter((fixture) => fixture.nameOrig === account);
    expect(view.totals.asOrigin).toEqual({
      count: 3,
      amount: sum(asOrigin),
      fraud: { count: 1, amount: "40.00" },
      flaggedFraud: { count: 1, amount: "40.00" },
      balanceMismatches: 1,
    });
    expect(view.totals.asDestination).toEqual({
      count: 2,
      amount: "1.09",
      fraud: { count: 1, amount: "0.10" },
      flaggedFraud: { count: 0, amount: "0.00" },
      balanceMismatches: 1,
    });
    for (const [index, fixture] of fixtures.entries()) {
      const item = view.items.find((candidate) => candidate.transaction.id === rows[index]?.id);
      expect(item?.role).toBe(fixture.nameOrig === account ? "origin" : "destination");
      expect(item?.balanceMismatches.map((mismatch) => mismatch.side)).toEqual(fixture.mismatches);
    }
    const transfer = view.items.find((item) => item.transaction.id === rows[1]?.id);
    expect(transfer?.balanceMismatches).toEqual([
      { side: "origin", oldBalance: "20.00", newBalance: "0.00", expectedNewBalance: "-20.00" },
    ]);
    const cashIn = view.items.find((item) => item.transaction.id === rows[4]?.id);
    expect(cashIn?.balanceMismatches[0]?.expectedNewBalance).toBe("9999999999999999.00");
  });

  it("pages with the cursor through every row once", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const response = await get(`/accounts/${account}?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      expect(response.status).toBe(200);
      const view = AccountView.parse(response.body);
      expect(view.items.length).toBeLessThanOrEqual(2);
      seen.push(...view.items.map((item) => item.transaction.id));
      cursor = view.nextCursor;
    } while (cursor);
    expect(seen).toEqual(rows.map((row) => row.id).reverse());
  });

  it("does not check merchants' balances, which PaySim does not keep", async () => {
    const view = AccountView.parse((await get(`/accounts/${merchant}`)).body);
    expect(view.items).toHaveLength(1);
    expect(view.items[0]?.balanceMismatches).toEqual([]);
    expect(view.totals.asDestination.count).toBe(1);
  });

  it("answers 404 for an account nothing names, 400 for a malformed name or query", async () => {
    expect((await get(`/accounts/C${runTag}Z`)).status).toBe(404);
    const malformed = await get("/accounts/C%201");
    expect(malformed.status).toBe(400);
    expect(malformed.body.issues).toEqual([{ field: "name", reason: expect.any(String) }]);
    const badQuery = await get(`/accounts/${account}?sort=asc`);
    expect(badQuery.status).toBe(400);
    expect(badQuery.body.issues).toEqual([{ field: "sort", reason: expect.any(String) }]);
  });

  it("takes asOf: only rows stored by then count", async () => {
    const asOf = new Date(base + 2 * 3_600_000).toISOString();
    const view = AccountView.parse((await get(`/accounts/${account}?asOf=${asOf}`)).body);
    expect(view.asOf).toBe(asOf);
    expect(view.items.map((item) => item.transaction.id)).toEqual([rows[2]?.id, rows[1]?.id, rows[0]?.id]);
    expect(view.totals.asDestination.count).toBe(0);
    expect((await get(`/accounts/${account}?asOf=${new Date(base - 1).toISOString()}`)).status).toBe(404);
  });
});

describe("GET /reports?asOf=", () => {
  const ids = async (query: string) => {
    const response = await get(`/reports?nameOrig=${account}&${query}`);
    expect(response.status).toBe(200);
    return ReportPage.parse(response.body).items.map((item) => item.id);
  };

  it("lists only what was stored at or before the instant, in any offset", async () => {
    const originIds = [rows[2]?.id, rows[1]?.id, rows[0]?.id];
    expect(await ids(`asOf=${new Date(base + 3_600_000).toISOString()}`)).toEqual(originIds.slice(1));
    // The same instant written with an offset instead of Z.
    const plusOne = new Date(base + 3_600_000 * 2).toISOString().replace("Z", "+00:00");
    expect(await ids(`asOf=${encodeURIComponent(plusOne)}`)).toEqual(originIds);
    expect(await ids(`asOf=${new Date(base + 3_600_000 - 1).toISOString()}`)).toEqual(originIds.slice(2));
    expect(await ids("")).toEqual(originIds);
  });

  it.each(["yesterday", "2025-02-30T00:00:00Z", "2025-06-18T10:00:00"])("answers 400 for asOf=%s", async (value) => {
    const response = await get(`/reports?asOf=${encodeURIComponent(value)}`);
    expect(response.status).toBe(400);
    const issues = response.body.issues as { field: string }[];
    expect(issues.length).toBeGreaterThan(0);
    expect(issues.map((issue) => issue.field)).toEqual(issues.map(() => "asOf"));
  });
});
