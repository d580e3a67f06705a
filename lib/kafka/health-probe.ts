import type { Admin } from "kafkajs";
import { withTimeout } from "../timeout.js";
import { kafka } from "./client.js";

let probeAdmin: Admin | undefined;

/**
 * One metadata request (the cluster's brokers, no topics) within `timeoutMs`, for GET /health; throws
 * TimeoutError or the client's error otherwise. Its admin client is kept connected between checks,
 * never retries (the caller's timeout is the budget), and is dropped after a failure so the next check
 * reconnects.
 */
export async function probeBroker(timeoutMs: number): Promise<void> {
  probeAdmin ??= kafka.admin({ retry: { retries: 0 } });
  const admin = probeAdmin;
  try {
    await withTimeout(
      (async () => {
        await admin.connect();
        await admin.describeCluster();
      })(),
      timeoutMs,
      "the Kafka metadata request",
    );
  } catch (error) {
    if (probeAdmin === admin) probeAdmin = undefined;
    admin.disconnect().catch(() => {});
    throw error;
  }
}

/** Disconnects the probe's admin client, if one is open. */
export async function closeBrokerProbe(): Promise<void> {
  const admin = probeAdmin;
  probeAdmin = undefined;
  await admin?.disconnect();
}
