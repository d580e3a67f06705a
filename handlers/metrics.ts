import { route } from "../lib/http/handler.js";
import { exposeMetrics } from "../lib/metrics-exposition.js";

/** GET /metrics: this process's Prometheus metrics (text format), the consumer lag per partition included. */
export const handler = route(async () => {
  const { contentType, body } = await exposeMetrics();
  return { statusCode: 200, headers: { "Content-Type": contentType, "Cache-Control": "no-store" }, body };
});
