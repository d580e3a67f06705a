import { z } from "zod";

/** How long the database check waits for a lock on a table before it calls the database degraded. */
export const TABLE_LOCK_TIMEOUT_MS = 500;

export const DependencyHealth = z.strictObject({
  status: z.enum(["up", "degraded", "down"]).meta({
    description: '"degraded": it answers, but not its tables (a lock held on them, every statement timing out).',
  }),
  latencyMs: z.int().min(0).meta({ description: "How long the check took (the timeout when it timed out)." }),
  error: z.string().optional().meta({
    description: "Why it is down: a timeout or an error code; details are in the server's log, not here (the route is public).",
  }),
});
export type DependencyHealth = z.infer<typeof DependencyHealth>;

/** GET /health. */
export const HealthResponse = z.strictObject({
  status: z.enum(["up", "degraded", "down"]).meta({
    description:
      '"up" when every dependency is up; "degraded" when the database answers but its tables do not (transactions are ' +
      'still accepted, reads answer 503); "down" when a dependency does not answer.',
  }),
  checks: z.strictObject({
    kafka: DependencyHealth.meta({ description: "A metadata request to the brokers." }),
    database: DependencyHealth.meta({
      description: `A read of each table, waiting at most ${TABLE_LOCK_TIMEOUT_MS} ms for a lock on it.`,
    }),
  }),
});
export type HealthResponse = z.infer<typeof HealthResponse>;

/** Examples of GET /health's answers (the OpenAPI document shows them). */
export const healthExamples = {
  up: {
    status: "up",
    checks: { kafka: { status: "up", latencyMs: 3 }, database: { status: "up", latencyMs: 1 } },
  },
  kafkaDown: {
    status: "down",
    checks: {
      kafka: { status: "down", latencyMs: 2000, error: "timed out after 2000 ms" },
      database: { status: "up", latencyMs: 1 },
    },
  },
} satisfies Record<string, HealthResponse>;
