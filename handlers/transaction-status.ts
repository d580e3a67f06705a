import { jsonResponse, route } from "../lib/http/handler.js";
import { getTransaction, parseTransactionId } from "../lib/reports/list.js";

/** GET /transactions/{id}: the stored row, 404 until the consumer has stored it. */
export const handler = route(async (event) => {
  const transaction = await getTransaction(parseTransactionId(event.pathParameters?.id));
  return jsonResponse(200, transaction);
});
