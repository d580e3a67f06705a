import { createRequire } from "node:module";

/** The parts of KafkaJS's consumer Runner (src/consumer/runner.js, not exported) this fix touches. */
interface RunnerInternals {
  running: boolean;
  fetchManager: { stop(): Promise<void> };
  fetch(nodeId: number): Promise<unknown[]>;
}

const FIXED = Symbol.for("serverless-offline-kafka-trigger.kafkajs-runner-fix");

/**
 * KafkaJS 2.2.4: a consumer stopped while its fetchers are being rebuilt (the brokers in its metadata
 * changed: one restarted, or was missing from the cached metadata) spins forever. runner.stop() stops the
 * fetchers there are; fetchManager.start(), which was replacing them at that moment, then starts new ones,
 * and a fetch of a runner that is not running returns [] at once: a loop of resolved promises that starves
 * the event loop, so no timer, socket or signal is served again (a worker replacing its consumer after a
 * coordinator move ignored SIGTERM until it was killed). Fixed here: such a fetch also stops the fetchers
 * it came from, and the fetch manager ends as it does after a plain stop().
 * Applied once per process, to the KafkaJS copy `kafkajs` resolves to from this package (the host's, a peer
 * dependency): by applyKafkaJsFixes(), which every poller calls when it starts unless told not to.
 */
export function fixKafkaJsRunnerStop(): void {
  const runner = createRequire(import.meta.url)("kafkajs/src/consumer/runner.js") as {
    prototype: RunnerInternals & { [FIXED]?: true };
  };
  const prototype = runner.prototype;
  if (prototype[FIXED]) return;
  const fetch = prototype.fetch;
  prototype.fetch = async function fetchUnlessStopped(this: RunnerInternals, nodeId: number) {
    if (!this.running) {
      // Not awaited: stop() waits for this very fetcher to leave its loop, which it does once this returns.
      void this.fetchManager.stop().catch(() => {});
      return [];
    }
    return fetch.call(this, nodeId);
  };
  prototype[FIXED] = true;
}

/**
 * The KafkaJS 2.2.4 fixes the trigger relies on, applied to the KafkaJS the host installed. Explicit: a poller
 * calls it in start() (PollerOptions.fixKafkaJs: false leaves KafkaJS as it is); importing this package patches nothing.
 */
export function applyKafkaJsFixes(): void {
  fixKafkaJsRunnerStop();
}
