import { requestApiKey } from "../lib/http/api-key.js";
import { maxBodyBytes } from "../lib/http/body-limits.js";
import { jsonBodyRoute, jsonResponse } from "../lib/http/handler.js";
import { headerValues } from "../lib/http/headers.js";
import { IDEMPOTENCY_KEY_HEADER } from "../lib/idempotency.js";
import { type AcceptedResponse, acceptTransaction } from "../lib/ingest.js";

/** POST /transaction: 202 once Kafka acknowledged; the consumer stores it shortly after. Honours Idempotency-Key, scoped per API key. */
export const handler = jsonBodyRoute({ maxBodyBytes: maxBodyBytes("POST", "/transaction") }, async (event) => {
  const { ids, replayed } = await acceptTransaction(event.body, {
    idempotencyKey: headerValues(event, IDEMPOTENCY_KEY_HEADER),
    apiKey: requestApiKey(event),
  });
  const id = ids[0] as string;
  return jsonResponse(202, { id, status: "Accepted" } satisfies AcceptedResponse, {
    Location: `/transactions/${id}`,
    ...(replayed ? { "Idempotent-Replayed": "true" } : {}),
  });
});
