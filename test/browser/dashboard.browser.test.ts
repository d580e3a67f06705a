import { randomBytes } from "node:crypto";
import { mkdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { drizzle } from "drizzle-orm/node-postgres";
import type { Producer } from "kafkajs";
import pg from "pg";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrateDatabase } from "../../lib/db/client.js";
import * as schema from "../../lib/db/schema.js";
import { ensureTopics } from "../../lib/kafka/admin.js";
import { dropDatabase, ensureDatabase, withDatabase } from "../../scripts/infra/index.js";
import { readPaysimCsv } from "../../scripts/paysim/csv.js";
import { seedIdOf, seedTransactions } from "../../scripts/seed/historical.js";
import { simulate } from "../../scripts/simulate/run.js";
import { launchChromium, requireChromium } from "../support/chromium.js";
import { closePool } from "../support/database.js";
import { testKafka, uniqueName } from "../support/kafka.js";
import { type OfflineServer, startOffline } from "../support/offline.js";

/**
 * The dashboard at GET / in a real headless browser (Debian's chromium through playwright-core, never a
 * downloaded one), on the real `serverless offline start` with its Kafka trigger, against a database of
 * its own (so the page shows exactly what the test put there): the key prompt, the original scenario
 * (after a seed the 100 Historical rows; a POST appears as Completed without a reload), a dead letter
 * appearing, and a screenshot under `npm run simulate`'s load (written to tmp/artifacts/dashboard.png).
 */
const ROOT = resolve(import.meta.dirname, "../..");
const PAYSIM = join(ROOT, "paysim.csv");
const SCREENSHOT = join(ROOT, "tmp", "artifacts", "dashboard.png");

const LOAD_ROWS = 2_000;
const topic = uniqueName("test.dashboard");
const deadLetterTopic = `${topic}.dead-letter`;
const group = uniqueName("test.dashboard-consume");
const databaseName = `txlog_dashboard_${randomBytes(4).toString("hex")}`;
const databaseUrl = withDatabase(process.env.DATABASE_URL as string, databaseName);

let server: OfflineServer;
let browser: BrowserContext;
let closeBrowser: (() => Promise<void>) | undefined;
let pool: pg.Pool;
let producer: Producer;
const seededIds: string[] = [];

beforeAll(async () => {
  // Fail, never skip: the browser tests are part of the definition of done.
  requireChromium();
  await ensureTopics([topic, deadLetterTopic]);
  await ensureDatabase(databaseUrl);
  await migrateDatabase(databaseUrl);
  pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  // `npm run seed`'s library: the first 100 rows of paysim.csv as Historical.
  const seeded = await seedTransactions({ file: PAYSIM, rows: 100, db: drizzle(pool, { schema }) });
  expect(seeded.inserted).toBe(100);
  for await (const row of readPaysimCsv(PAYSIM, { limit: 100 })) seededIds.push(seedIdOf(row));
  server = await startOffline({
    env: { TRANSACTIONS_TOPIC: topic, DEAD_LETTER_TOPIC: deadLetterTopic, CONSUMER_GROUP_ID: group, DATABASE_URL: databaseUrl },
  });
  producer = testKafka().producer();
  await producer.connect();
  ({ browser, close: closeBrowser } = await launchChromium({ viewport: { width: 1440, height: 1000 } }));
});

afterAll(async () => {
  await closeBrowser?.();
  await producer?.disconnect();
  await server?.stop();
  await closePool(pool);
  await dropDatabase(databaseUrl);
});

/** A new tab (its own sessionStorage) that records every request it makes. */
async function openDashboard(): Promise<{ page: Page; requests: { url: string; apiKey: string | undefined }[] }> {
  const page = await browser.newPage();
  const requests: { url: string; apiKey: string | undefined }[] = [];
  page.on("request", (request) => requests.push({ url: request.url(), apiKey: request.headers()["x-api-key"] }));
  await page.goto(`${server.baseUrl}/`);
  return { page, requests };
}

async function enterKey(page: Page, key: string): Promise<void> {
  await page.locator("#api-key").fill(key);
  await page.getByRole("button", { name: "Open the dashboard" }).click();
}

/** What the page keeps in its tab's sessionStorage (evaluated in the browser). */
const storedKey = 'sessionStorage.getItem("txlog.apiKey")';
/** Completed rows in the server's database, as GET /reports/summary counts them. */
async function completedCount(): Promise<number> {
  const response = await fetch(`${server.baseUrl}/reports/summary?status=Completed`, { headers: server.headers() });
  return ((await response.json()) as { count: number }).count;
}

const rows = (page: Page) => page.locator("[data-testid=transactions] tbody tr[data-id]");

describe("the dashboard at GET /", () => {
  it("asks for the API key once, keeps it in this tab's sessionStorage only, and never has it in the page", async () => {
    const { page, requests } = await openDashboard();
    await expect.poll(() => page.locator("[data-testid=key-prompt]").count()).toBe(1);
    expect(await page.content()).not.toContain(server.apiKey);
    // Before a key, the page asks the API nothing.
    expect(requests.filter(({ url }) => url.includes("/pipeline/") || url.includes("/reports"))).toEqual([]);

    // A wrong key: refused by the API (403), asked again.
    await enterKey(page, "certainly-not-the-right-key");
    await expect.poll(() => page.getByRole("alert").textContent(), { timeout: 10_000 }).toContain("refused");
    expect(await page.evaluate(storedKey)).toBeNull();

    await enterKey(page, server.apiKey);
    await expect
      .poll(() => page.locator("[data-testid=health-kafka]").getAttribute("data-status"), { timeout: 15_000 })
      .toBe("up");
    expect(await page.evaluate(storedKey)).toBe(server.apiKey);
    expect(await page.evaluate("localStorage.length")).toBe(0);

    // Kept for this tab: a reload does not ask again.
    await page.reload();
    await expect.poll(() => page.locator("[data-testid=health-kafka]").count(), { timeout: 10_000 }).toBe(1);
    expect(await page.locator("[data-testid=key-prompt]").count()).toBe(0);

    // The page and its assets are public and never carry the key; every request went to this server
    // (no CDN), and every data request carried the key the user typed.
    for (const path of ["/", "/dashboard/dashboard.js", "/dashboard/dashboard.css"]) {
      const response = await fetch(`${server.baseUrl}${path}`);
      expect(response.status).toBe(200);
      expect(await response.text()).not.toContain(server.apiKey);
    }
    expect(requests.filter(({ url }) => !url.startsWith(`${server.baseUrl}/`) && !url.startsWith("data:"))).toEqual([]);
    const dataRequests = requests.filter(({ url }) => /\/(pipeline|reports)/.test(url));
    expect(dataRequests.length).toBeGreaterThan(0);
    expect(new Set(dataRequests.map(({ apiKey }) => apiKey))).toEqual(new Set(["certainly-not-the-right-key", server.apiKey]));

    // Another tab has its own sessionStorage: asked again. "Forget key" forgets it here.
    const other = await openDashboard();
    await expect.poll(() => other.page.locator("[data-testid=key-prompt]").count()).toBe(1);
    await other.page.close();
    await page.getByRole("button", { name: "Forget key" }).click();
    await expect.poll(() => page.locator("[data-testid=key-prompt]").count()).toBe(1);
    expect(await page.evaluate(storedKey)).toBeNull();
    await page.close();
  });

  it("shows the seed's 100 Historical rows, then a POSTed transaction as Completed without a reload", async () => {
    const { page } = await openDashboard();
    await enterKey(page, server.apiKey);
    await expect.poll(() => rows(page).count(), { timeout: 15_000 }).toBe(100);
    const shown = await rows(page).evaluateAll((elements) => elements.map((element) => element.getAttribute("data-id")));
    expect(new Set(shown)).toEqual(new Set(seededIds));
    expect(await page.locator("[data-testid=transactions] td[data-col=status]").allTextContents()).toEqual(
      Array(100).fill("Historical"),
    );
    await expect.poll(() => page.locator("[data-testid=summary-count]").textContent(), { timeout: 15_000 }).toBe("100");

    const response = await fetch(`${server.baseUrl}/transaction`, {
      method: "POST",
      headers: server.headers({ "content-type": "application/json" }),
      body: JSON.stringify({
        step: 1,
        type: "TRANSFER",
        amount: "1.916920493E7",
        nameOrig: "C1305486145",
        oldbalanceOrg: 181.0,
        newbalanceOrig: 0.0,
        nameDest: "C553264065",
        oldbalanceDest: 0.0,
        newbalanceDest: 0.0,
        isFraud: 1,
        isFlaggedFraud: 0,
      }),
    });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };

    // No reload: the live table shows it on top, stored by the consumer.
    const first = rows(page).first();
    await expect.poll(() => first.getAttribute("data-id"), { timeout: 20_000 }).toBe(id);
    expect(await first.locator("td[data-col=status]").textContent()).toBe("Completed");
    expect(await first.textContent()).toContain("19169204.93");
    await expect.poll(() => rows(page).count()).toBe(100);
    await expect.poll(() => page.locator("[data-testid=summary-completed]").textContent(), { timeout: 15_000 }).toBe("1");

    // The filters and the cursor: Completed only is the one row; Historical pages on with the API's cursor.
    await page.getByLabel("status").selectOption("Completed");
    await expect.poll(() => rows(page).count()).toBe(1);
    await page.getByLabel("status").selectOption("Historical");
    await page.getByLabel("page size").selectOption("25");
    await expect.poll(() => rows(page).count()).toBe(25);
    const firstPage = await rows(page).evaluateAll((elements) => elements.map((element) => element.getAttribute("data-id")));
    await page.getByRole("button", { name: "Older" }).click();
    await expect.poll(async () => (await rows(page).first().getAttribute("data-id")) !== firstPage[0]).toBe(true);
    const secondPage = await rows(page).evaluateAll((elements) => elements.map((element) => element.getAttribute("data-id")));
    expect(secondPage).toHaveLength(25);
    expect(secondPage.filter((shownId) => firstPage.includes(shownId))).toEqual([]);
    await page.getByRole("button", { name: "Newer" }).click();
    await expect.poll(() => rows(page).first().getAttribute("data-id")).toBe(firstPage[0]);
    await page.close();
  });

  it("shows a dead letter appear, by reason, without a reload", async () => {
    const { page } = await openDashboard();
    await enterKey(page, server.apiKey);
    const panel = page.locator("[data-testid=dead-letters]");
    await expect.poll(() => panel.textContent(), { timeout: 15_000 }).toContain("none");

    await producer.send({ topic, messages: [{ key: "poison", value: "this is not a transaction" }] });
    const row = panel.locator("tr[data-reason=undecodable]");
    await expect.poll(() => row.count(), { timeout: 20_000 }).toBe(1);
    expect(await row.locator("td[data-col=count]").textContent()).toBe("1");
    expect(await panel.locator("[data-testid=recent-dead-letters]").textContent()).toContain("undecodable");
    await page.close();
  });

  it("runs live under simulate's load, and a screenshot of it is saved", async () => {
    const { page } = await openDashboard();
    await page.setViewportSize({ width: 1440, height: 1180 });
    await enterKey(page, server.apiKey);
    const completedBefore = await completedCount();
    const load = simulate({
      url: server.baseUrl,
      apiKey: server.apiKey,
      file: PAYSIM,
      // About 10 s of load at 200 transactions a second, 10 a request (POST /transactions).
      rows: LOAD_ROWS,
      concurrency: 4,
      rate: 200,
      bulk: 10,
    });
    const rate = (name: string) => async () =>
      Number((await page.locator(`[data-testid=${name}] .value`).textContent())?.replace(/,/g, ""));
    await expect.poll(rate("accepted-rate"), { timeout: 30_000, interval: 500 }).toBeGreaterThan(0);
    await expect.poll(rate("stored-rate"), { timeout: 30_000, interval: 500 }).toBeGreaterThan(0);
    // Let the throughput chart and the summary (every 5 s) catch up with the load, then keep the picture.
    await page.waitForTimeout(6_000);
    mkdirSync(join(ROOT, "tmp", "artifacts"), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
    expect(statSync(SCREENSHOT).size).toBeGreaterThan(50_000);

    const { report } = await load;
    expect(report.accepted).toBe(LOAD_ROWS);
    // Every accepted row shows up in the summary as Completed.
    await expect
      .poll(() => page.locator("[data-testid=summary-completed]").textContent(), { timeout: 60_000, interval: 1_000 })
      .toBe(new Intl.NumberFormat("en-US").format(completedBefore + LOAD_ROWS));
    await page.close();
  }, 120_000);
});
