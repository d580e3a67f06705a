import { collectKafkaEventDefinitions, ERROR_HANDLING_OPTIONS, KNOWN_OPTIONS } from "./event-definition.js";
import { fail } from "./event-options.js";
import { createJsonLogger } from "./logger.js";
import { type RunningPollers, type StartPollersOptions, startPollers } from "./pollers.js";

/** What Serverless resolved of serverless.yml (only what the trigger reads). */
export interface ServerlessService {
  service?: unknown;
  functions?: unknown;
  provider?: { timeout?: unknown };
  custom?: { offlineKafka?: unknown };
}

/** custom.offlineKafka: the plugin's own settings (not the event source mapping's, which are on the events). */
export interface PluginSettings {
  /** The brokers to poll, instead of the events' own (arn / bootstrapServers are AWS's). Default localhost:9092. */
  brokers?: string[];
  /** false: the plugin polls nothing (serverless offline serves the rest). Default true. */
  enabled?: boolean;
}

/** Serverless's default function timeout, when neither the function nor the provider sets one. */
const SERVERLESS_DEFAULT_TIMEOUT_SECONDS = 6;

/** custom.offlineKafka, checked: an unknown key is an error (an event source mapping option there says where it goes). */
export function pluginSettings(custom: ServerlessService["custom"]): PluginSettings {
  const raw = custom?.offlineKafka;
  if (raw === undefined || raw === null) return {};
  const where = "custom.offlineKafka";
  if (typeof raw !== "object" || Array.isArray(raw)) fail(where, "expected an object { brokers, enabled }");
  const settings = raw as Record<string, unknown>;
  const eventOptions = new Set<string>([...KNOWN_OPTIONS.msk, ...KNOWN_OPTIONS.kafka, ...ERROR_HANDLING_OPTIONS]);
  for (const key of Object.keys(settings)) {
    if (key === "brokers" || key === "enabled") continue;
    if (eventOptions.has(key))
      fail(where, `"${key}" is an event source mapping option: put it on the function's msk/kafka event`);
    fail(where, `unknown option "${key}" (known: brokers, enabled)`);
  }
  const { brokers, enabled } = settings;
  const list = typeof brokers === "string" ? brokers.split(",").map((broker) => broker.trim()) : brokers;
  if (list !== undefined && (!Array.isArray(list) || list.length === 0 || list.some((b) => typeof b !== "string" || b === "")))
    fail(where, `brokers must be "host:port,host:port" or a list of host:port (got ${JSON.stringify(brokers)})`);
  if (enabled !== undefined && typeof enabled !== "boolean" && enabled !== "true" && enabled !== "false")
    fail(where, `enabled must be a boolean (got ${JSON.stringify(enabled)})`);
  return {
    ...(list ? { brokers: list as string[] } : {}),
    ...(enabled === undefined ? {} : { enabled: enabled === true || enabled === "true" }),
  };
}

/** Each function's timeout in seconds: the function's, else the provider's, else Serverless's 6 s. */
export function functionTimeouts(service: ServerlessService): Record<string, number> {
  const providerTimeout = service.provider?.timeout;
  const timeouts: Record<string, number> = {};
  for (const [key, fn] of Object.entries((service.functions ?? {}) as Record<string, { timeout?: unknown }>)) {
    const seconds = fn?.timeout ?? providerTimeout;
    timeouts[key] = typeof seconds === "number" && seconds > 0 ? seconds : SERVERLESS_DEFAULT_TIMEOUT_SECONDS;
  }
  return timeouts;
}

/**
 * The plugin's work on `offline:start:init`: every function's msk/kafka events from the resolved
 * serverless.yml, each polled from the brokers the host or custom.offlineKafka gives, with the options the
 * events carry and each function's timeout. An option the trigger does not know fails here, before anything polls.
 */
export async function startOfflineKafka(
  service: ServerlessService,
  servicePath: string,
  hooks: Omit<StartPollersOptions, "servicePath" | "definitions" | "timeouts"> = {},
): Promise<RunningPollers | undefined> {
  const settings = pluginSettings(service.custom);
  const serviceName = typeof service.service === "string" ? service.service : "service";
  const definitions = collectKafkaEventDefinitions(serviceName, service.functions);
  if (settings.enabled === false) {
    (hooks.logger ?? createJsonLogger())
      .child({ component: "offline-kafka" })
      .info(
        { functions: definitions.map(({ functionKey }) => functionKey) },
        "custom.offlineKafka.enabled is false; not polling",
      );
    return undefined;
  }
  const bootstrapServers = hooks.bootstrapServers ?? settings.brokers;
  return startPollers({
    ...hooks,
    ...(bootstrapServers ? { bootstrapServers } : {}),
    servicePath,
    definitions,
    timeouts: functionTimeouts(service),
  });
}
