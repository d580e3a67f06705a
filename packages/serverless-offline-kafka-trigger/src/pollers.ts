import type { KafkaEventDefinition } from "./event-definition.js";
import { loadHandler as importHandler } from "./handler-loader.js";
import { createJsonLogger } from "./logger.js";
import { KafkaPoller } from "./poller.js";
import { type BatchInvoker, createKafka, DEFAULTS, type PollerOptions, type TriggerHooks } from "./poller-options.js";
import { ensureTopicsExist } from "./topics.js";

export interface RunningPollers {
  pollers: KafkaPoller[];
  /** Stops every poller (each finishes and commits its batch in flight). */
  stop(): Promise<void>;
}

export interface StartPollersOptions extends TriggerHooks {
  servicePath: string;
  definitions: KafkaEventDefinition[];
  /** Function timeouts in seconds, by function key (serverless.yml's). Default 60 s. */
  timeouts?: Record<string, number>;
  /** Settings every poller gets besides the hooks (retry backoff, session timeout, concurrency). */
  poller?: Partial<Omit<PollerOptions, "definition" | "invoke" | keyof TriggerHooks>>;
  /** Called with what the handler returned after each successful invocation (progress counters). */
  onResult?: (definition: KafkaEventDefinition, result: unknown) => void;
  /** Imports a handler and returns its invoker. Default: import the module under servicePath in this process. */
  loadHandler?: (servicePath: string, handler: string, timeoutMs: number) => Promise<BatchInvoker>;
}

/** One consumer group per enabled msk/kafka event, each invoking its function's handler in this process. */
export async function startPollers(options: StartPollersOptions): Promise<RunningPollers> {
  const { servicePath, definitions, timeouts = {}, poller, onResult, loadHandler = importHandler, ...hooks } = options;
  const bootstrapServers = hooks.bootstrapServers ?? DEFAULTS.bootstrapServers;
  const kafka = hooks.kafka ?? createKafka(bootstrapServers);
  const log = (hooks.logger ?? createJsonLogger()).child({ component: "offline-kafka" });
  const enabled = definitions.filter((definition) => definition.enabled);
  for (const skipped of definitions.filter((definition) => !definition.enabled)) {
    log.info({ function: skipped.functionKey, topic: skipped.topic }, "event disabled (enabled: false); not polling");
  }
  const ensureTopics = hooks.ensureTopics ?? ensureTopicsExist;
  if (enabled.length > 0) await ensureTopics([...new Set(enabled.map((definition) => definition.topic))], kafka);
  const pollers: KafkaPoller[] = [];
  try {
    for (const definition of enabled) {
      const timeoutMs = (timeouts[definition.functionKey] ?? 60) * 1000;
      const handler = await loadHandler(servicePath, definition.handler, timeoutMs);
      const invoke: BatchInvoker = async (event) => {
        const result = await handler(event);
        onResult?.(definition, result);
        return result;
      };
      const started = new KafkaPoller({
        ...hooks,
        kafka,
        bootstrapServers,
        ...poller,
        functionTimeoutMs: timeoutMs,
        definition,
        invoke,
      });
      pollers.push(started);
      await started.start();
    }
  } catch (error) {
    await Promise.allSettled(pollers.map((started) => started.stop()));
    throw error;
  }
  let stopping: Promise<void> | undefined;
  return {
    pollers,
    stop() {
      stopping ??= Promise.allSettled(pollers.map((started) => started.stop())).then(() => {});
      return stopping;
    },
  };
}
