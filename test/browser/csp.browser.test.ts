import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, requireChromium } from "../support/chromium.js";
import { type OfflineServer, startOffline } from "../support/offline.js";

/**
 * The public pages (Swagger UI at /docs, the dashboard at /) in headless chromium with a script injected into
 * their HTML on the way, as a stored or reflected injection would put it there: the page's own scripts still
 * run, the injected one does not, and the browser reports the policy violation.
 */

let server: OfflineServer;
let browser: BrowserContext;
let closeBrowser: (() => Promise<void>) | undefined;

beforeAll(async () => {
  requireChromium();
  server = await startOffline();
  ({ browser, close: closeBrowser } = await launchChromium());
});

afterAll(async () => {
  await closeBrowser?.();
  await server?.stop();
});

const INJECTED = `<script>window.injected = true</script><img src="x" onerror="window.injected = true">`;

/** `path` opened with INJECTED put into its HTML as served (the response's own headers kept). */
async function openInjected(path: string): Promise<Page> {
  const page = await browser.newPage();
  const url = `${server.baseUrl}${path}`;
  await page.route(url, async (route) => {
    const response = await route.fetch();
    const body = (await response.text()).replace("<body>", `<body>${INJECTED}`);
    expect(body).toContain(INJECTED);
    await route.fulfill({ response, body });
  });
  // Runs before the page's own scripts (in the page, so a string: this project's types have no DOM).
  await page.addInitScript(
    `window.violations = []; document.addEventListener("securitypolicyviolation", (e) => window.violations.push(e.violatedDirective));`,
  );
  const served = await page.goto(url);
  expect(served?.headers()["content-security-policy"]).toContain("default-src 'none'");
  return page;
}

const injectedRan = (page: Page) => page.evaluate("window.injected === true");
/** The directives the page violated, each once: only the injected script and handler, nothing the page needs. */
const violations = async (page: Page) => [...new Set(await page.evaluate<string[]>("window.violations"))].sort();

describe("Content-Security-Policy of the public pages", () => {
  it("/docs: Swagger UI starts and lists the operations; an injected inline script does not run", async () => {
    const page = await openInjected("/docs");
    await expect.poll(() => page.locator("#operations-transactions-submitTransaction").count(), { timeout: 15_000 }).toBe(1);
    expect(await injectedRan(page)).toBe(false);
    expect(await violations(page)).toEqual(["script-src-attr", "script-src-elem"]);
  });

  it("/: the dashboard starts and asks for the key; an injected inline script does not run", async () => {
    const page = await openInjected("/");
    await expect.poll(() => page.locator("[data-testid=key-prompt]").count(), { timeout: 15_000 }).toBe(1);
    expect(await injectedRan(page)).toBe(false);
    expect(await violations(page)).toEqual(["script-src-attr", "script-src-elem"]);
  });
});
