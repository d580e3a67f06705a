import { jsonResponse, route } from "../lib/http/handler.js";
import { pipelineStats } from "../lib/pipeline/stats.js";

/** GET /pipeline/stats: health, rates, lag and dead letters for the dashboard; never cached. */
export const handler = route(async () => jsonResponse(200, await pipelineStats(), { "Cache-Control": "no-store" }));
