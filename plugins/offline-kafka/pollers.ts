import { config } from "../../lib/config.js";
import { classifyFailure, describeFailure } from "../../lib/failures.js";
import { ensureTopics } from "../../lib/kafka/admin.js";
import { releaseClients } from "../../lib/lifecycle.js";
import { logger } from "../../lib/logger.js";
import { watchConsumerLag } from "../../lib/metrics.js";
import { collectKafkaEventDefinitions, type KafkaEventDefinition } from "./event-definition.js";
import { loadHandler } from "./handler-loader.js";
import { KafkaPoller } from "./poller.js";
import type { PollerOptions } from "./poller-options.js";

const log = logger.child({ component: "offline-kafka" });

/**
 * txlog's outage policy for its pollers: a failure the consume function met in the database or the broker
 * (lib/failures.ts: by SQLSTATE class and error type) or a function timeout is an outage, so the batch is
 * held and retried until stored, never counted or dead-lettered; only a record's content makes poison, and
 * the consume function dead-letters that itself.
 */
export const txlogOutagePolicy = {
  isOutage: (error: unknown) => classifyFailure(error) === "outage",
  describeError: describeFailure,
} satisfies Pick<PollerOptions, "isOutage" | "describeError">;

export interface RunningPollers {
  pollers: KafkaPoller[];
  /** Stops every poller (each finishes and commits its batch in flight), then closes the process's clients. */
  stop(): Promise<void>;
}

export interface StartPollersOptions {
  servicePath: string;
  definitions: KafkaEventDefinition[];
  /** Function timeouts from serverless.yml, in seconds, by function key. */
  timeouts?: Record<string, number>;
  poller?: Partial<Omit<PollerOptions, "definition" | "invoke">>;
  /** Called with what the handler returned after each successful invocation (progress counters). */
  onResult?: (definition: KafkaEventDefinition, result: unknown) => void;
}

/** One consumer group per enabled msk/kafka event, each invoking its function's handler in this process. */
export async function startPollers({
  servicePath,
  definitions,
  timeouts = {},
  poller,
  onResult,
}: StartPollersOptions): Promise<RunningPollers> {
  const enabled = definitions.filter((definition) => definition.enabled);
  for (const skipped of definitions.filter((definition) => !definition.enabled)) {
    log.info({ function: skipped.functionKey, topic: skipped.topic }, "event disabled (enabled: false); not polling");
  }
  if (enabled.length > 0) await ensureTopics([...new Set(enabled.map((definition) => definition.topic))]);
  const pollers: KafkaPoller[] = [];
  try {
    for (const definition of enabled) {
      const timeoutMs = (timeouts[definition.functionKey] ?? 60) * 1000;
      const handler = await loadHandler(servicePath, definition.handler, timeoutMs);
      const invoke = async (event: Parameters<typeof handler>[0]) => {
        const result = await handler(event);
        onResult?.(definition, result);
        return result;
      };
      const started = new KafkaPoller({
        ...txlogOutagePolicy,
        ...poller,
        functionTimeoutMs: timeoutMs,
        definition,
        invoke,
      });
      pollers.push(started);
      await started.start();
      // Its group's lag per partition in every scrape of this process (GET /metrics, the worker's metrics port).
      watchConsumerLag(definition.topic, definition.consumerGroupId);
    }
  } catch (error) {
    await Promise.allSettled(pollers.map((started) => started.stop()));
    throw error;
  }
  let stopping: Promise<void> | undefined;
  return {
    pollers,
    stop() {
      stopping ??= (async () => {
        await Promise.allSettled(pollers.map((started) => started.stop()));
        // The producer (dead letters), the broker probe and the pool the handlers used.
        await releaseClients();
      })();
      return stopping;
    },
  };
}

interface ServerlessService {
  service?: unknown;
  functions?: unknown;
  provider?: { timeout?: unknown };
  custom?: { offlineKafka?: unknown };
}

/** Serverless's default function timeout, when neither the function nor the provider sets one. */
const SERVERLESS_DEFAULT_TIMEOUT_SECONDS = 6;

/**
 * The plugin's work on `offline:start:init`: every function's msk/kafka events from the resolved
 * serverless.yml, each polled from config.KAFKA_BROKERS (the events' own brokers/ARNs are AWS's), with the
 * event source mapping options the events carry and each function's timeout (function, else provider).
 * An option the trigger does not know fails here, before anything polls.
 */
export async function startOfflineKafka(service: ServerlessService, servicePath: string): Promise<RunningPollers | undefined> {
  if (!config.OFFLINE_KAFKA_ENABLED) {
    log.info("OFFLINE_KAFKA_ENABLED=false; not polling Kafka");
    return undefined;
  }
  const serviceName = typeof service.service === "string" ? service.service : "service";
  const definitions = collectKafkaEventDefinitions(serviceName, service.functions, service.custom);
  const providerTimeout = service.provider?.timeout;
  const timeouts: Record<string, number> = {};
  for (const [key, fn] of Object.entries((service.functions ?? {}) as Record<string, { timeout?: unknown }>)) {
    const seconds = fn?.timeout ?? providerTimeout;
    timeouts[key] = typeof seconds === "number" && seconds > 0 ? seconds : SERVERLESS_DEFAULT_TIMEOUT_SECONDS;
  }
  return startPollers({ servicePath, definitions, timeouts });
}
