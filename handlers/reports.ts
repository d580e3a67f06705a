import { jsonResponse, route } from "../lib/http/handler.js";
import { listTransactions, parseReportsQuery } from "../lib/reports/list.js";

/** GET /reports: stored transactions, newest first, a keyset page at a time. */
export const handler = route(async (event) => {
  const page = await listTransactions(parseReportsQuery(event.queryStringParameters));
  return jsonResponse(200, page);
});
