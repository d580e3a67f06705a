import { InvalidInputError, issuesFromZod } from "../lib/http/errors.js";
import { jsonResponse, route } from "../lib/http/handler.js";
import { SummaryQuery, summarizeTransactions } from "../lib/summary.js";

/** GET /reports/summary?stepFrom=&stepTo=&type=&status= : totals computed by PostgreSQL. */
export const handler = route(async (event) => {
  const query = SummaryQuery.safeParse(event.queryStringParameters ?? {});
  if (!query.success) throw new InvalidInputError("query", issuesFromZod(query.error));
  return jsonResponse(200, await summarizeTransactions(query.data));
});
