import { collectDefaultMetrics } from "prom-client";
import { config } from "./config.js";
import { consumerGroupLag, topicMessageCount } from "./kafka/lag.js";
import { logger } from "./logger.js";
import { metrics, type TxlogMetrics, watchConsumerLag } from "./metrics.js";

const log = logger.child({ component: "metrics" });

export interface MetricsExposition {
  contentType: string;
  body: string;
}

/**
 * The registry in Prometheus' text format. The figures Kafka holds (dead-letter topic size, consumer lag)
 * are read now, for this scrape; Node's process metrics are enabled on the first exposition only (a process
 * that never exposes metrics, such as `sls invoke local`, starts no event-loop or GC monitors).
 */
export async function exposeMetrics(options: { configuredPipelineLag?: boolean } = {}): Promise<MetricsExposition> {
  const current = metrics();
  if (!current.defaultMetrics) {
    current.defaultMetrics = true;
    collectDefaultMetrics({ register: current.registry });
  }
  // The API's: its own pipeline (TRANSACTIONS_TOPIC, CONSUMER_GROUP_ID). A worker reports its pollers' only.
  if (options.configuredPipelineLag ?? true) watchConsumerLag(config.TRANSACTIONS_TOPIC, config.CONSUMER_GROUP_ID);
  await Promise.all([readDeadLetterTopic(current), readConsumerLag(current)]);
  return { contentType: current.registry.contentType, body: await current.registry.metrics() };
}

async function readDeadLetterTopic({ deadLetterTopicMessages }: TxlogMetrics): Promise<void> {
  deadLetterTopicMessages.reset();
  try {
    deadLetterTopicMessages.set({ topic: config.DEAD_LETTER_TOPIC }, await topicMessageCount(config.DEAD_LETTER_TOPIC));
  } catch (error) {
    log.warn({ err: error }, "dead-letter topic not available for this scrape");
  }
}

async function readConsumerLag({ consumerLag, lagTargets }: TxlogMetrics): Promise<void> {
  consumerLag.reset();
  await Promise.all(
    [...lagTargets.values()].map(async ({ topic, groupId }) => {
      try {
        const { partitions } = await consumerGroupLag(topic, groupId);
        for (const { partition, lag } of partitions)
          consumerLag.set({ topic, partition: String(partition), group: groupId }, lag);
      } catch (error) {
        // No series rather than a wrong one; Prometheus shows the gap.
        log.warn({ err: error, topic, groupId }, "consumer lag not available for this scrape");
      }
    }),
  );
}
