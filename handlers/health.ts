import { checkHealth } from "../lib/health.js";
import { jsonResponse, route } from "../lib/http/handler.js";
import { BROKER_RETRY_AFTER_SECONDS } from "../lib/http/problem.js";

/**
 * GET /health (public): 200 when Kafka and PostgreSQL answer (also "degraded": its tables locked, transactions
 * still accepted), else 503 with Retry-After; never cached.
 */
export const handler = route(async () => {
  const health = await checkHealth();
  const up = health.status !== "down";
  return jsonResponse(up ? 200 : 503, health, {
    "Cache-Control": "no-store",
    ...(up ? {} : { "Retry-After": String(BROKER_RETRY_AFTER_SECONDS) }),
  });
});
