import { config } from "../lib/config.js";
import { jsonBodyRoute, jsonResponse } from "../lib/http/handler.js";
import { idempotencyKeyValues, parseIdempotencyKey } from "../lib/idempotency.js";
import { acceptTransactions } from "../lib/ingest.js";

/** POST /transactions: a JSON array, all accepted (202, ids in request order) or none. Honours Idempotency-Key. */
export const handler = jsonBodyRoute({ maxBodyBytes: config.MAX_BULK_BODY_BYTES }, async (event) => {
  const idempotencyKey = parseIdempotencyKey(idempotencyKeyValues(event));
  const { ids, replayed } = await acceptTransactions(event.body, { idempotencyKey });
  return jsonResponse(202, { status: "Accepted", count: ids.length, ids }, replayed ? { "Idempotent-Replayed": "true" } : {});
});
