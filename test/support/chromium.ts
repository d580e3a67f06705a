import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

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
