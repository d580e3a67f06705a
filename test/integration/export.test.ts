import { randomInt } from "node:crypto";
import { parse } from "csv-parse/sync";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeDb, getDb } from "../../lib/db/client.js";
import type { NewTransactionRow } from "../../lib/db/schema.js";
import { insertTransactions } from "../../lib/db/transactions.js";
import { CSV_CHUNK_ROWS, CSV_COLUMNS, csvChunks, ReportsCsvQuery } from "../../lib/reports/csv.js";
import { ReportPage } from "../../lib/reports/schemas.js";
import { type OfflineServer, startOffline } from "../support/offline.js";

/**
 * GET /reports?format=csv over HTTP against 2,500 rows of one account unique to this run: every row once,
 * in the JSON order, money exact, across responses joined by the Next-Cursor header.
 */

const runTag = String(randomInt(1e8, 1e9));
// A name a spreadsheet would evaluate (it starts with "-"): the export must defuse it.
const account = `-${runTag}`;
const base = Date.parse("2033-01-01T00:00:00.000Z") + randomInt(0, 1_000_000) * 1000;
const ROWS = 2_500;
const rows: NewTransactionRow[] = Array.from({ length: ROWS }, (_, index) => ({
  id: uuidv7(),
  step: index,
  type: index % 2 ? "TRANSFER" : "PAYMENT",
  // Cents a float would get wrong at this magnitude.
  amount: `${9_999_999_999_990_000 + index}.${String(index % 100).padStart(2, "0")}`,
  nameOrig: account,
  oldbalanceOrg: "0.10",
  newbalanceOrig: "0.20",
  nameDest: "C1",
  oldbalanceDest: "0.00",
  newbalanceDest: "0.00",
  isFraud: index % 7 === 0,
  isFlaggedFraud: false,
  status: "Historical",
  receivedAt: new Date(base + index),
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

const records = (text: string) => parse(text, { columns: true }) as Record<(typeof CSV_COLUMNS)[number], string>[];

describe("GET /reports?format=csv", () => {
  it("exports every matching row once, newest first, across responses joined by Next-Cursor", async () => {
    const exported: Record<string, string>[] = [];
    const sizes: number[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `nameOrig=${account}&format=csv&limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const response = await fetch(`${server.baseUrl}/reports?${query}`, { headers: server.headers() });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toMatch(/^text\/csv; charset=utf-8/);
      expect(response.headers.get("content-disposition")).toBe('attachment; filename="transactions.csv"');
      const text = await response.text();
      expect(text.split("\r\n")[0]).toBe(CSV_COLUMNS.join(","));
      const part = records(text);
      sizes.push(part.length);
      exported.push(...part);
      cursor = response.headers.get("next-cursor");
    } while (cursor);
    expect(sizes).toEqual([1000, 1000, 500]);
    const newestFirst = [...rows].reverse();
    expect(exported.map((record) => record.id)).toEqual(newestFirst.map((row) => row.id));
    expect(exported.map((record) => record.amount)).toEqual(newestFirst.map((row) => row.amount));
    expect(new Set(exported.map((record) => record.nameOrig))).toEqual(new Set([`'${account}`]));
    expect(exported.filter((record) => record.isFraud === "true")).toHaveLength(rows.filter((row) => row.isFraud).length);
  });

  it("answers CSV for Accept: text/csv, with the same filters and rows as the JSON page", async () => {
    const filter = `nameOrig=${account}&type=TRANSFER&isFraud=true&limit=50`;
    const csv = await fetch(`${server.baseUrl}/reports?${filter}`, { headers: server.headers({ accept: "text/csv" }) });
    expect(csv.headers.get("content-type")).toMatch(/^text\/csv/);
    const json = await fetch(`${server.baseUrl}/reports?${filter}`, { headers: server.headers() });
    const page = ReportPage.parse(await json.json());
    expect(page.items.length).toBeGreaterThan(0);
    const exported = records(await csv.text());
    expect(exported.map((record) => [record.id, record.amount, record.receivedAt, record.persistedAt])).toEqual(
      page.items.map((item) => [item.id, item.amount, item.receivedAt, item.persistedAt]),
    );
  });

  it("answers 400 for a limit over the export's, naming it", async () => {
    const response = await fetch(`${server.baseUrl}/reports?format=csv&limit=20001`, { headers: server.headers() });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { issues: unknown }).issues).toEqual([{ field: "limit", reason: "at most 20000" }]);
  });
});

describe("csvChunks", () => {
  it("reads a chunk at a time and stops at the byte budget with a cursor to continue", async () => {
    const query = ReportsCsvQuery.parse({ nameOrig: account, format: "csv" });
    const chunks = csvChunks(query, { maxBytes: 1 });
    const header = await chunks.next();
    expect(header.value).toBe(`${CSV_COLUMNS.join(",")}\r\n`);
    const first = await chunks.next();
    expect(first.done).toBe(false);
    expect(records(`${header.value}${first.value}`)).toHaveLength(CSV_CHUNK_ROWS);
    const end = await chunks.next();
    expect(end.done).toBe(true);
    const rest = csvChunks({ ...query, cursor: undefined, limit: 20_000 }, {});
    let count = -1;
    for await (const chunk of rest) count += chunk.split("\r\n").length - 1;
    expect(count).toBe(ROWS);
    expect(typeof end.value).toBe("string");
  });
});
