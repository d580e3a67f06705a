import { z } from "zod";
import { getPool } from "./db/client.js";
import { TimeoutError } from "./errors.js";
import { probeBroker } from "./kafka/health-probe.js";
import { logger } from "./logger.js";
import { withTimeout } from "./timeout.js";

const log = logger.child({ component: "health" });

/** Each dependency's check gets this long; both run in parallel, so GET /health answers within about this. */
export const HEALTH_CHECK_TIMEOUT_MS = 2_000;

export const DependencyHealth = z.strictObject({
  status: z.enum(["up", "down"]),
  latencyMs: z.int().min(0).meta({ description: "How long the check took (the timeout when it timed out)." }),
  error: z.string().optional().meta({
    description: "Why it is down: a timeout or an error code; details are in the server's log, not here (the route is public).",
  }),
});
export type DependencyHealth = z.infer<typeof DependencyHealth>;

export const HealthResponse = z.strictObject({
  status: z.enum(["up", "down"]).meta({ description: '"up" only when every dependency is up.' }),
  checks: z.strictObject({
    kafka: DependencyHealth.meta({ description: "A metadata request to the brokers." }),
    database: DependencyHealth.meta({ description: "`select 1` on the connection pool." }),
  }),
});
export type HealthResponse = z.infer<typeof HealthResponse>;

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
    log.warn({ dependency: name, err: error, latencyMs }, "dependency check failed");
    return { status: "down", latencyMs, error: publicReason(error, timeoutMs) };
  }
}

/** Checks Kafka and PostgreSQL in parallel, each bounded by `timeoutMs`. */
export async function checkHealth(timeoutMs = HEALTH_CHECK_TIMEOUT_MS): Promise<HealthResponse> {
  const [kafka, database] = await Promise.all([
    timed("kafka", () => probeBroker(timeoutMs), timeoutMs),
    timed("database", () => getPool().query("select 1"), timeoutMs),
  ]);
  return { status: kafka.status === "up" && database.status === "up" ? "up" : "down", checks: { kafka, database } };
}
