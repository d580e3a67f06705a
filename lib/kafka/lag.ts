import type { Admin } from "kafkajs";
import type { ConsumerGroupLag, ConsumerHealth, PartitionLag } from "../pipeline/schemas.js";
import { withTimeout } from "../timeout.js";
import { kafka } from "./client.js";

/** How long a lag or group look-up may take (two admin requests); the dashboard and a scrape wait at most this. */
export const LAG_TIMEOUT_MS = 2_000;

/** A consumer group's members as Kafka describes them. */
export type ConsumerGroupState = Pick<ConsumerHealth, "groupId" | "state" | "members">;

/**
 * One admin client for these look-ups, kept connected between calls (the dashboard polls every few
 * seconds, Prometheus scrapes every 15 s); dropped after a failure so the next call reconnects.
 */
let lagAdmin: Admin | undefined;

async function withAdmin<T>(what: string, timeoutMs: number, use: (admin: Admin) => Promise<T>): Promise<T> {
  lagAdmin ??= kafka.admin({ retry: { retries: 0 } });
  const admin = lagAdmin;
  try {
    return await withTimeout(
      (async () => {
        await admin.connect();
        return use(admin);
      })(),
      timeoutMs,
      what,
    );
  } catch (error) {
    if (lagAdmin === admin) lagAdmin = undefined;
    admin.disconnect().catch(() => {});
    throw error;
  }
}

/**
 * The group's lag on `topic`, per partition: the high watermarks against the offsets the group
 * committed, as `kafka-consumer-groups.sh --describe` and Lambda's OffsetLag metric count it. The local
 * trigger commits past the commit markers of Kafka transactions (plugins/offline-kafka), so a caught-up
 * partition reads 0.
 */
export function consumerGroupLag(topic: string, groupId: string, timeoutMs = LAG_TIMEOUT_MS): Promise<ConsumerGroupLag> {
  return withAdmin(`reading the lag of group ${groupId}`, timeoutMs, async (admin) => {
    const [ends, [committed]] = await Promise.all([
      admin.fetchTopicOffsets(topic),
      admin.fetchOffsets({ groupId, topics: [topic] }),
    ]);
    const committedBy = new Map((committed?.partitions ?? []).map(({ partition, offset }) => [partition, Number(offset)]));
    const partitions = ends
      .map(({ partition, high, low }): PartitionLag => {
        const highWatermark = Number(high);
        const offset = committedBy.get(partition);
        const committedOffset = offset !== undefined && offset >= 0 ? offset : null;
        return { partition, highWatermark, committedOffset, lag: Math.max(0, highWatermark - (committedOffset ?? Number(low))) };
      })
      .sort((a, b) => a.partition - b.partition);
    return { topic, groupId, partitions, total: partitions.reduce((sum, { lag }) => sum + lag, 0) };
  });
}

/**
 * Messages retained on `topic` (each partition's end minus its start): what the dead-letter topic holds,
 * whoever wrote it (the consume function, the trigger's on-failure destination, a tool).
 */
export function topicMessageCount(topic: string, timeoutMs = LAG_TIMEOUT_MS): Promise<number> {
  return withAdmin(`reading the offsets of ${topic}`, timeoutMs, async (admin) => {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((sum, { high, low }) => sum + Math.max(0, Number(high) - Number(low)), 0);
  });
}

/** Whether the group has members consuming (its state and member count). */
export function consumerGroupState(groupId: string, timeoutMs = LAG_TIMEOUT_MS): Promise<ConsumerGroupState> {
  return withAdmin(`describing group ${groupId}`, timeoutMs, async (admin) => {
    const { groups } = await admin.describeGroups([groupId]);
    const group = groups.find((candidate) => candidate.groupId === groupId);
    return { groupId, state: group?.state ?? "Unknown", members: group?.members.length ?? 0 };
  });
}

/** Disconnects the look-ups' admin client, if one is open. */
export async function closeLagAdmin(): Promise<void> {
  const admin = lagAdmin;
  lagAdmin = undefined;
  await admin?.disconnect();
}
