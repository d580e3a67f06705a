import { randomInt } from "node:crypto";
import { readFileSync } from "node:fs";
import { parse } from "csv-parse/sync";
import type { BrowserContext, Page } from "playwright-core";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeDb, getDb } from "../../lib/db/client.js";
import type { NewTransactionRow } from "../../lib/db/schema.js";
import { insertTransactions } from "../../lib/db/transactions.js";
import { launchChromium, requireChromium } from "../support/chromium.js";
import { type OfflineServer, startOffline } from "../support/offline.js";

/**
 * The dashboard's audit features in a real headless browser on `serverless offline start`: the CSV download
 * (every row the filters match, across the API's bounded responses) and the account view a table link opens.
 */

const runTag = String(randomInt(1e8, 1e9));
const account = `C${runTag}`;
const base = Date.parse("2034-01-01T00:00:00.000Z") + randomInt(0, 1_000_000) * 1000;
// More than one CSV response (20,000 rows each) would hold, so the download must follow Next-Cursor.
const ROWS = 20_050;
const rows: NewTransactionRow[] = Array.from({ length: ROWS }, (_, index) => ({
  id: uuidv7(),
  step: 1,
  type: "TRANSFER",
  amount: `${1_000_000_000_000 + index}.07`,
  nameOrig: account,
  // The newest row's balances do not add up (20.00 - amount is not 0.00); the others do.
  oldbalanceOrg: index === ROWS - 1 ? "20.00" : `${1_000_000_000_000 + index}.07`,
  newbalanceOrig: "0.00",
  nameDest: `C${runTag}D`,
  oldbalanceDest: "0.00",
  newbalanceDest: `${1_000_000_000_000 + index}.07`,
  isFraud: false,
  isFlaggedFraud: false,
  status: "Historical",
  receivedAt: new Date(base + index),
}));

let server: OfflineServer;
let browser: BrowserContext;
let closeBrowser: (() => Promise<void>) | undefined;
let page: Page;

beforeAll(async () => {
  requireChromium();
  await insertTransactions(getDb(), rows);
  server = await startOffline();
  ({ browser, close: closeBrowser } = await launchChromium({ viewport: { width: 1440, height: 1000 } }));
  page = await browser.newPage();
  await page.goto(`${server.baseUrl}/`);
  await page.locator("#api-key").fill(server.apiKey);
  await page.getByRole("button", { name: "Open the dashboard" }).click();
});

afterAll(async () => {
  await closeBrowser?.();
  await server?.stop();
  await closeDb();
});

describe("the dashboard's audit features", () => {
  it("shows the account's rows once filtered by it", async () => {
    await page.getByLabel("account").fill(account);
    await expect
      .poll(() => page.locator("[data-testid=transactions] tbody tr[data-id]").first().getAttribute("data-id"), {
        timeout: 15_000,
      })
      .toBe(rows.at(-1)?.id);
  });

  it("downloads every row the filters match as one CSV file, money exact", async () => {
    const [download] = await Promise.all([
      page.waitForEvent("download", { timeout: 60_000 }),
      page.getByTestId("download-csv").click(),
    ]);
    const file = await download.path();
    const records = parse(readFileSync(file, "utf8"), { columns: true }) as { id: string; amount: string; nameOrig: string }[];
    expect(records).toHaveLength(ROWS);
    expect(records.map((record) => record.id)).toEqual([...rows].reverse().map((row) => row.id));
    expect(records[0]?.amount).toBe(rows.at(-1)?.amount);
    expect(new Set(records.map((record) => record.nameOrig))).toEqual(new Set([account]));
  });

  it("opens the account view from the table, with its totals and the row whose balances do not add up", async () => {
    await page
      .locator("[data-testid=transactions] tbody tr[data-id]")
      .first()
      .getByRole("link", { name: account, exact: true })
      .click();
    expect(new URL(page.url()).hash).toBe(`#account=${account}`);
    const panel = page.getByTestId("account");
    await expect
      .poll(() => panel.getByTestId("account-totals").locator("tbody tr").first().textContent())
      .toContain(String(ROWS));
    const flagged = panel.locator("[data-testid=account-items] tr.mismatch");
    await expect.poll(() => flagged.count()).toBe(1);
    expect(await flagged.getAttribute("data-id")).toBe(rows.at(-1)?.id);
    expect(await flagged.locator("[data-col=balance]").textContent()).toContain(
      `expected -${BigInt(1_000_000_000_000 + ROWS - 1) - 20n}.07`,
    );
    await panel.getByRole("button", { name: "Close" }).click();
    await expect.poll(() => page.getByTestId("account").count()).toBe(0);
  });
});
