import { requestApiKey } from "../lib/http/api-key.js";
import { maxBodyBytes } from "../lib/http/body-limits.js";
import { jsonBodyRoute, jsonResponse } from "../lib/http/handler.js";
import { headerValues } from "../lib/http/headers.js";
import { IDEMPOTENCY_KEY_HEADER } from "../lib/idempotency.js";
import { acceptTransactions, type BulkAcceptedResponse } from "../lib/ingest.js";

/** POST /transactions: a JSON array, all accepted (202, ids in request order) or none. Honours Idempotency-Key, scoped per API key. */
export const handler = jsonBodyRoute({ maxBodyBytes: maxBodyBytes("POST", "/transactions") }, async (event) => {
  const { ids, replayed } = await acceptTransactions(event.body, {
    idempotencyKey: headerValues(event, IDEMPOTENCY_KEY_HEADER),
    apiKey: requestApiKey(event),
  });
  const body: BulkAcceptedResponse = { status: "Accepted", count: ids.length, ids };
  return jsonResponse(202, body, replayed ? { "Idempotent-Replayed": "true" } : {});
});
