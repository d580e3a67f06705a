import { spawnSync } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";

/** True when `command args...` runs and exits 0 within the timeout (used to detect tools). */
export function commandSucceeds(command: string, args: string[], timeoutMs = 10_000): boolean {
  const result = spawnSync(command, args, { stdio: "ignore", timeout: timeoutMs });
  return result.status === 0;
}

export function isAlive(pid: number | undefined): pid is number {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM, wait up to graceMs for the process to exit, then SIGKILL. */
export async function stopProcess(pid: number, graceMs = 30_000): Promise<void> {
  if (!isAlive(pid)) return;
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(100);
  if (isAlive(pid)) process.kill(pid, "SIGKILL");
  while (isAlive(pid)) await sleep(50);
}

export async function waitFor(
  what: string,
  probe: () => Promise<boolean>,
  { timeoutMs = 60_000, intervalMs = 250, onTimeout }: { timeoutMs?: number; intervalMs?: number; onTimeout?: () => string } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await sleep(intervalMs);
  }
  throw new Error(`${what} not ready after ${timeoutMs} ms${onTimeout ? `\n${onTimeout()}` : ""}`);
}
