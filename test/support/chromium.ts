import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";

/** Debian's chromium: the browser tests drive it with playwright-core (never a downloaded browser). */
export const CHROMIUM = "/usr/bin/chromium";

/**
 * Installs Debian's chromium when it is missing, as infra:up brings up what the tests need, so
 * README's `npm install && npm test` passes on a fresh machine of our kind. Where it cannot (not root,
 * no apt-get, no package mirror), it says why once; the browser test then fails naming what to install.
 */
export function ensureChromium(log: (message: string) => void): void {
  if (existsSync(CHROMIUM)) return;
  const isRoot = process.getuid?.() === 0;
  const hasApt = spawnSync("sh", ["-c", "command -v apt-get"], { stdio: "ignore" }).status === 0;
  if (!isRoot || !hasApt) {
    log(`${CHROMIUM} is missing and cannot be installed here (${isRoot ? "no apt-get" : "not root"}): apt-get install chromium`);
    return;
  }
  log("installing Debian's chromium for the browser tests (apt-get; once per machine)");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const install = () => spawnSync("apt-get", ["install", "-y", "-qq", "chromium"], { env, stdio: "ignore" }).status === 0;
  if (install()) return;
  spawnSync("apt-get", ["update", "-qq"], { env, stdio: "ignore" });
  if (!install()) log("apt-get install chromium failed; the browser tests will say what is missing");
}

/** The flags every browser test runs chromium with (headless, no sandbox: tests run as root). */
export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"];

/** Fails, never skips, when Debian's chromium is missing: the browser tests are part of the definition of done. */
export function requireChromium(): void {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; .ci/run does)`);
  }
}

/** A browser of the test's own; close() ends it, then removes its profile. */
export interface LaunchedChromium {
  browser: BrowserContext;
  close(): Promise<void>;
}

/** Debian's chromium with a profile of its own in a temp dir. `args` replaces CHROMIUM_ARGS. */
export async function launchChromium(
  options: { args?: string[]; viewport?: { width: number; height: number } } = {},
): Promise<LaunchedChromium> {
  requireChromium();
  const userDataDir = mkdtempSync(join(tmpdir(), "txlog-chromium-"));
  const browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: options.args ?? CHROMIUM_ARGS,
    ...(options.viewport ? { viewport: options.viewport } : {}),
  });
  return {
    browser,
    async close() {
      // Only once chromium has exited: it writes to its profile until then.
      await browser.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
