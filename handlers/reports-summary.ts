import { jsonResponse, route } from "../lib/http/handler.js";
import { parseSummaryQuery, summarizeTransactions } from "../lib/reports/summary.js";

/** GET /reports/summary?stepFrom=&stepTo=&type=&status= : totals computed by PostgreSQL. */
export const handler = route(async (event) => {
  return jsonResponse(200, await summarizeTransactions(parseSummaryQuery(event.queryStringParameters)));
});
