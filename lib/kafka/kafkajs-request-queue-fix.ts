import RequestQueue from "kafkajs/src/network/requestQueue/index.js";

/** The parts of KafkaJS's RequestQueue (src/network/requestQueue/index.js, not exported) this fix touches. */
interface RequestQueueInternals {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: ReturnType<typeof setTimeout> | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

/** KafkaJS's own interval between checks of requests that wait while too many are in flight. */
const CHECK_PENDING_REQUESTS_INTERVAL_MS = 10;
const FIXED = Symbol.for("txlog.kafkajs-request-queue-fix");

/**
 * KafkaJS 2.2.4 (its last release): after every response, a queue that is neither throttled nor holding a
 * request re-arms its check with `throttledUntil - Date.now()`, i.e. -1 - now, a negative delay. Node runs
 * it after 1 ms, and the check re-arms itself the same way: every broker connection wakes the process each
 * millisecond for as long as it is open, and Node 24 warns (TimeoutNegativeWarning) at the first one.
 * Fixed here: with nothing waiting and no throttle to outlast, no check is armed (a request queued later
 * arms its own, as before). Otherwise as KafkaJS does it.
 * The import is static so that a bundle (serverless-esbuild) fixes the very copy of KafkaJS it carries.
 */
export function fixKafkaJsRequestQueue(): void {
  const prototype = (RequestQueue as unknown as { prototype: RequestQueueInternals & { [FIXED]?: true } }).prototype;
  if (prototype[FIXED]) return;
  prototype.scheduleCheckPendingRequests = function scheduleCheckPendingRequests(this: RequestQueueInternals) {
    if (this.throttleCheckTimeoutId) return;
    const untilUnthrottled = this.throttledUntil - Date.now();
    let delayMs: number;
    if (this.pending.length > 0) delayMs = untilUnthrottled > 0 ? untilUnthrottled : CHECK_PENDING_REQUESTS_INTERVAL_MS;
    else if (untilUnthrottled > 0) delayMs = untilUnthrottled;
    else return;
    this.throttleCheckTimeoutId = setTimeout(() => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    }, delayMs);
  };
  prototype[FIXED] = true;
}
