import { jsonResponse, route, textResponse } from "../lib/http/handler.js";
import { headerValue } from "../lib/http/headers.js";
import { CSV_CONTENT_TYPE, exportCsv, NEXT_CURSOR_HEADER, parseReportsRequest } from "../lib/reports/csv.js";
import { listTransactions } from "../lib/reports/list.js";

/** GET /reports: stored transactions, newest first, a keyset page at a time; CSV on request (format=csv, Accept: text/csv). */
export const handler = route(async (event) => {
  const request = parseReportsRequest(event.queryStringParameters, headerValue(event, "accept"));
  if (request.format === "json") return jsonResponse(200, await listTransactions(request.query));
  const { body, nextCursor } = await exportCsv(request.query);
  return textResponse(200, CSV_CONTENT_TYPE, body, {
    "Content-Disposition": 'attachment; filename="transactions.csv"',
    ...(nextCursor ? { [NEXT_CURSOR_HEADER]: nextCursor } : {}),
  });
});
