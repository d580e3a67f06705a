import { closeDb } from "./db/client.js";
import { closeBrokerProbe } from "./kafka/health-probe.js";
import { closeLagAdmin } from "./kafka/lag.js";
import { disconnectProducer } from "./kafka/producer.js";

/**
 * Closes every client this process opened (producers, broker probe, lag admin, pools); each reconnects on next use.
 * `sls invoke local` runs one invocation and waits for the event loop to empty, which an open Kafka or
 * pg connection never lets happen (Lambda freezes the container instead); the local trigger calls it on stop.
 */
export async function releaseClients(): Promise<void> {
  await Promise.allSettled([disconnectProducer(), closeBrokerProbe(), closeLagAdmin(), closeDb()]);
}
