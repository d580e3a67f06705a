import type { Handler, MSKEvent } from "aws-lambda";
import { type BatchSummary, persistMskEvent } from "../lib/consume.js";

/**
 * The consume function: Lambda's MSK trigger (or the local poller, or `sls invoke local`) delivers a
 * batch; it is stored in one database transaction. A thrown error makes the trigger retry the batch.
 */
export const handler: Handler<MSKEvent, BatchSummary> = async (event) => persistMskEvent(event);
