import { config } from "../lib/config.js";
import { jsonBodyRoute, jsonResponse } from "../lib/http/handler.js";
import { idempotencyKeyValues, parseIdempotencyKey } from "../lib/idempotency.js";
import { acceptTransaction } from "../lib/ingest.js";

/** POST /transaction: 202 once Kafka acknowledged; the consumer stores it shortly after. Honours Idempotency-Key. */
export const handler = jsonBodyRoute({ maxBodyBytes: config.MAX_BODY_BYTES }, async (event) => {
  const idempotencyKey = parseIdempotencyKey(idempotencyKeyValues(event));
  const { ids, replayed } = await acceptTransaction(event.body, { idempotencyKey });
  const id = ids[0] as string;
  return jsonResponse(
    202,
    { id, status: "Accepted" },
    { Location: `/transactions/${id}`, ...(replayed ? { "Idempotent-Replayed": "true" } : {}) },
  );
});
