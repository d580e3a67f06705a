import { config } from "../lib/config.js";
import { jsonBodyRoute, jsonResponse } from "../lib/http/handler.js";
import { acceptTransactions } from "../lib/ingest.js";

/** POST /transactions: a JSON array, all accepted (202, ids in request order) or none. */
export const handler = jsonBodyRoute({ maxBodyBytes: config.MAX_BULK_BODY_BYTES }, async (event) => {
  const accepted = await acceptTransactions(event.body);
  return jsonResponse(202, { status: "Accepted", count: accepted.length, ids: accepted.map(({ id }) => id) });
});
