import { Kafka, logLevel } from "kafkajs";
import { KafkaPoller } from "serverless-offline-kafka-trigger";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, type FaultBroker, groupStable, startFaultBroker } from "../support/fault-infra.js";
import { testKafka, uniqueName } from "../support/kafka.js";

/**
 * KafkaJS restarts a crashed consumer by itself once its own disconnect is done. A disconnect of ours that
 * runs at the same moment (the poller stopping, or replacing the consumer) used to be undone: the restart
 * still came, and the old consumer joined the group again as a member nobody stops. Here the poller is
 * stopped while its consumer is crashing (its broker hangs); once the broker answers again, no member of
 * that poller may come back.
 */

let broker: FaultBroker;
const topic = uniqueName("test.stopped-consumer");
const group = uniqueName("test.stopped-consumer-group");

beforeAll(async () => {
  broker = await startFaultBroker();
  const admin = testKafka(broker.brokers).admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 3, replicationFactor: 1 }] });
  await admin.disconnect();
});

afterAll(async () => {
  await broker?.destroy();
});

describe("a consumer crashing while the poller stops", () => {
  it("stays stopped: no member of the stopped poller rejoins the group when the broker answers again", async () => {
    // KafkaJS writes "Crash: ..." as it starts handling a crash, before its own disconnect.
    let crashes = 0;
    let onCrash: (() => void) | undefined;
    const kafka = new Kafka({
      clientId: "txlog-tests",
      brokers: broker.brokers,
      connectionTimeout: 1_000,
      requestTimeout: 2_000,
      retry: { initialRetryTime: 100, retries: 2, maxRetryTime: 500 },
      logLevel: logLevel.ERROR,
      logCreator:
        () =>
        ({ log }) => {
          if (!log.message.startsWith("Crash:")) return;
          crashes += 1;
          onCrash?.();
        },
    });
    const poller = new KafkaPoller({
      kafka,
      bootstrapServers: broker.brokers,
      sessionTimeoutMs: 6_000,
      definition: {
        functionKey: "consume",
        topic,
        batchSize: 100,
        maximumBatchingWindowMs: 0,
        startingPosition: "TRIM_HORIZON",
        consumerGroupId: group,
      },
      invoke: async () => undefined,
    });
    const admin = testKafka(broker.brokers).admin();
    await admin.connect();
    try {
      await poller.start();
      await groupStable(admin, group, 1);
      // The broker keeps this member after its restart until its session expires: only a new member counts.
      const before = new Set((await admin.describeGroups([group])).groups[0]?.members.map((member) => member.memberId));
      await admin.disconnect();

      const crashed = new Promise<void>((resolve) => {
        onCrash = resolve;
      });
      // A hung broker: the consumer's requests time out, it crashes, and KafkaJS's own disconnect (its
      // LeaveGroup times out too) is still running when the poller stops.
      broker.server.signal("SIGSTOP");
      await crashed;
      await poller.stop();

      broker.server.signal("SIGCONT");
      const crashesWhenBack = crashes;
      await admin.connect();
      // Long enough for KafkaJS's restart (a few hundred ms) and a join, and for the old member to expire.
      const newMembers = await eventually(
        "the group watched for 15 s",
        async () => (await admin.describeGroups([group])).groups[0]?.members.filter((member) => !before.has(member.memberId)),
        (members) => (members?.length ?? 0) > 0,
        15_000,
        250,
      ).then(
        (members) => members?.map((member) => member.memberId) ?? [],
        () => [],
      );
      expect(newMembers).toEqual([]);
      // Nor does a consumer of the stopped poller go on trying (and crashing) in the background.
      expect(crashes).toBe(crashesWhenBack);
    } finally {
      onCrash = undefined;
      await poller.stop();
      await admin.disconnect().catch(() => {});
    }
  }, 120_000);
});
