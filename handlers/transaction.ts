import { config } from "../lib/config.js";
import { jsonBodyRoute, jsonResponse } from "../lib/http/handler.js";
import { acceptTransaction } from "../lib/ingest.js";

/** POST /transaction: 202 once Kafka acknowledged; the consumer stores it shortly after. */
export const handler = jsonBodyRoute({ maxBodyBytes: config.MAX_BODY_BYTES }, async (event) => {
  const { id } = await acceptTransaction(event.body);
  return jsonResponse(202, { id, status: "Accepted" }, { Location: `/transactions/${id}` });
});
