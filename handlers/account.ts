import { parseAccountRequest, viewAccount } from "../lib/accounts/view.js";
import { jsonResponse, route } from "../lib/http/handler.js";

/** GET /accounts/{name}: the account's transactions as origin and destination, totals and balance flags. */
export const handler = route(async (event) => {
  const { name, query } = parseAccountRequest(event.pathParameters?.name, event.queryStringParameters);
  return jsonResponse(200, await viewAccount(name, query));
});
