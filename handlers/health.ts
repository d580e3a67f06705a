import { cachedHealth } from "../lib/health.js";
import { jsonResponse, route } from "../lib/http/handler.js";
import { BROKER_RETRY_AFTER_SECONDS } from "../lib/http/problem.js";

/**
 * GET /health (public): 200 when Kafka and PostgreSQL answer (also "degraded": its tables locked, transactions
 * still accepted), else 503 with Retry-After. One check answers for HEALTH_CACHE_MS (X-Checked-At says when it ran);
 * intermediaries never cache it.
 */
export const handler = route(async () => {
  const { health, checkedAt } = await cachedHealth();
  const up = health.status !== "down";
  return jsonResponse(up ? 200 : 503, health, {
    "Cache-Control": "no-store",
    "X-Checked-At": checkedAt.toISOString(),
    ...(up ? {} : { "Retry-After": String(BROKER_RETRY_AFTER_SECONDS) }),
  });
});
