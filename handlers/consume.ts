import type { Handler, MSKEvent } from "aws-lambda";
import { config } from "../lib/config.js";
import { type BatchSummary, persistMskEvent } from "../lib/consumer/persist.js";
import { releaseClients } from "../lib/lifecycle.js";

/**
 * The consume function: Lambda's MSK trigger (or the local trigger, or `sls invoke local`) delivers a
 * batch; it is stored in one database transaction. A thrown error makes the trigger retry the batch.
 */
export const handler: Handler<MSKEvent, BatchSummary> = async (event) => {
  try {
    return await persistMskEvent(event);
  } finally {
    // `sls invoke local` waits for the event loop to empty; open pg/Kafka connections would hold it ~10 s.
    if (config.IS_LOCAL) await releaseClients();
  }
};
