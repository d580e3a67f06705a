import { getReadPool } from "./db/client.js";
import { TimeoutError } from "./errors.js";
import { databaseErrorOf, describeFailure } from "./failures.js";
import { type DependencyHealth, type HealthResponse, TABLE_LOCK_TIMEOUT_MS } from "./health-schema.js";
import { probeBroker } from "./kafka/health-probe.js";
import { logger } from "./logger.js";
import { withTimeout } from "./timeout.js";

const log = logger.child({ component: "health" });

/** Each dependency's check gets this long; both run in parallel, so GET /health answers within about this. */
export const HEALTH_CHECK_TIMEOUT_MS = 2_000;

/** SQLSTATEs of a table that cannot be read now although the server answers: lock timeout, statement timeout. */
const DEGRADED_STATES = new Set(["55P03", "57014"]);

/** A read of every table, in a transaction whose lock waits are cut short: `select 1` answers under a table lock, this does not. */
async function probeTables(): Promise<void> {
  const client = await getReadPool().connect();
  try {
    await client.query("begin");
    await client.query(`set local lock_timeout = ${TABLE_LOCK_TIMEOUT_MS}`);
    await client.query("select 1 from transactions limit 1");
    await client.query("select 1 from dead_letters limit 1");
    await client.query("commit");
    client.release();
  } catch (error) {
    // Destroyed, not returned: it may be inside an aborted transaction.
    client.release(error as Error);
    throw error;
  }
}

/** A public-safe reason: the timeout, or the error's code (ECONNREFUSED, 57P03, ...) but never hosts or messages. */
function publicReason(error: unknown, timeoutMs: number): string {
  if (error instanceof TimeoutError) {
    return `timed out after ${timeoutMs} ms`;
  }
  let current: unknown = error;
  for (let depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && /^[A-Z0-9_]{2,40}$/.test(code)) return `failed: ${code}`;
    current = (current as { cause?: unknown }).cause;
  }
  return `failed: ${(error as Error)?.name ?? "error"}`;
}

async function timed(name: string, check: () => Promise<unknown>, timeoutMs: number): Promise<DependencyHealth> {
  const started = performance.now();
  try {
    await withTimeout(check(), timeoutMs, `the ${name} check`);
    return { status: "up", latencyMs: Math.round(performance.now() - started) };
  } catch (error) {
    const latencyMs = Math.round(performance.now() - started);
    const sqlstate = databaseErrorOf(error)?.code;
    const status = sqlstate && DEGRADED_STATES.has(sqlstate) ? "degraded" : "down";
    log.warn({ dependency: name, status, error: describeFailure(error), latencyMs }, "dependency check failed");
    return { status, latencyMs, error: publicReason(error, timeoutMs) };
  }
}

/** Checks Kafka and PostgreSQL in parallel, each bounded by `timeoutMs`. */
export async function checkHealth(timeoutMs = HEALTH_CHECK_TIMEOUT_MS): Promise<HealthResponse> {
  const [kafka, database] = await Promise.all([
    timed("kafka", () => probeBroker(timeoutMs), timeoutMs),
    timed("database", probeTables, timeoutMs),
  ]);
  const statuses = [kafka.status, database.status];
  const status = statuses.includes("down") ? "down" : statuses.includes("degraded") ? "degraded" : "up";
  return { status, checks: { kafka, database } };
}

/**
 * How long one check answers GET /health. The route is public: without this, each request would cost a database
 * connection and a Kafka metadata call. Concurrent requests share the check in flight, so an instance checks at
 * most once per window, however many probes or strangers ask.
 */
export const HEALTH_CACHE_MS = 2_000;

export interface CheckedHealth {
  health: HealthResponse;
  /** When the check this answer comes from started. */
  checkedAt: Date;
}

let latest: { startedMs: number; result: Promise<CheckedHealth> } | undefined;

/** The latest check when it started less than HEALTH_CACHE_MS ago (or is still running), else a new one. */
export function cachedHealth(): Promise<CheckedHealth> {
  const now = performance.now();
  if (!latest || now - latest.startedMs >= HEALTH_CACHE_MS) {
    const checkedAt = new Date();
    latest = { startedMs: now, result: checkHealth().then((health) => ({ health, checkedAt })) };
  }
  return latest.result;
}
