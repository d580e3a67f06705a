import type { KafkaMessage } from "kafkajs";
import type { BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AcceptedResponse } from "../../lib/ingest.js";
import { ensureTopics } from "../../lib/kafka/admin.js";
import { paysimExamples } from "../../lib/transaction.js";
import { launchChromium, requireChromium } from "../support/chromium.js";
import { readTopic, testKafka, uniqueName } from "../support/kafka.js";
import { type OfflineServer, startOffline } from "../support/offline.js";

/**
 * A real headless browser (Debian's chromium, driven by playwright-core; never a downloaded one)
 * uses Swagger UI at /docs on the running `serverless offline start` to POST a transaction, entering
 * the API key under Authorize as a user does (the page never carries it).
 */
/** CHROMIUM_ARGS plus QUIC, component updates and sync turned off, as this test has always run. */
const DOCS_CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let server: OfflineServer;
let browser: BrowserContext;
let closeBrowser: (() => Promise<void>) | undefined;
const topic = uniqueName("test.browser.transactions");

beforeAll(async () => {
  // Fail, never skip: the browser test is part of the definition of done.
  requireChromium();
  await ensureTopics([topic]);
  server = await startOffline({ env: { TRANSACTIONS_TOPIC: topic } });
  ({ browser, close: closeBrowser } = await launchChromium({ args: DOCS_CHROMIUM_ARGS }));
});

afterAll(async () => {
  await closeBrowser?.();
  await server?.stop();
});

/** The message the API produced for `id`, read back from the test's own topic. */
async function producedMessage(id: string): Promise<{ id: string; transaction: Record<string, unknown> }> {
  const messageValue = (message: KafkaMessage) => JSON.parse(message.value?.toString() ?? "{}");
  const messages = await readTopic(testKafka(), topic, (read) => read.some((message) => messageValue(message).id === id), 20_000);
  return messages.map(messageValue).find((value) => value.id === id);
}

describe("Swagger UI at /docs in headless chromium", () => {
  it("posts the example transaction through Authorize + Try it out and shows 202", async () => {
    const page = browser.pages()[0] ?? (await browser.newPage());
    const foreignRequests: string[] = [];
    page.on("request", (request) => {
      if (!request.url().startsWith(`${server.baseUrl}/`)) foreignRequests.push(request.url());
    });

    await page.goto(`${server.baseUrl}/docs`);
    // The page never carries the key: the user types it into Swagger UI's Authorize dialog.
    expect(await page.content()).not.toContain(server.apiKey);
    await page.locator(".auth-wrapper button.authorize").click();
    await page.locator("#api_key_value").fill(server.apiKey);
    await page.locator(".auth-container .auth-btn-wrapper button.authorize").click();
    await page.locator(".auth-container .auth-btn-wrapper button.btn-done").click();
    await expect.poll(() => page.locator(".auth-wrapper button.authorize.locked").count()).toBe(1);

    const operation = page.locator("#operations-transactions-submitTransaction");
    await operation.locator(".opblock-summary").click();
    await operation.getByRole("button", { name: "Try it out" }).click();
    const body = JSON.parse(await operation.locator("textarea.body-param__text").inputValue());
    const { type, amount, nameOrig } = paysimExamples.payment;
    expect(body).toMatchObject({ type, amount, nameOrig });

    const [apiResponse] = await Promise.all([
      page.waitForResponse(
        (response) => response.url() === `${server.baseUrl}/transaction` && response.request().method() === "POST",
      ),
      operation.getByRole("button", { name: "Execute" }).click(),
    ]);
    expect(apiResponse.status()).toBe(202);
    // The route is private: Swagger UI sent the key entered under Authorize.
    expect((await apiResponse.request().allHeaders())["x-api-key"]).toBe(server.apiKey);

    const shownStatus = operation.locator(".live-responses-table .response .response-col_status").first();
    await expect.poll(async () => (await shownStatus.textContent())?.trim(), { timeout: 15_000 }).toBe("202");
    const shownBody =
      (await operation.locator(".live-responses-table .response-col_description pre").first().textContent()) ?? "";
    const accepted = AcceptedResponse.parse(JSON.parse(shownBody));

    // Behind the 202: the transaction Swagger UI sent is in Kafka under the id it showed.
    const message = await producedMessage(accepted.id);
    expect(message.transaction).toMatchObject({ nameOrig, amount: "9839.64", type });
    // No CDN: every request the page made went to our server.
    expect(foreignRequests).toEqual([]);
  });
});
