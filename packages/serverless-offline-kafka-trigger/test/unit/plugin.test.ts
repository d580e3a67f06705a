import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";

/**
 * The plugin class as the Serverless Framework drives it (constructor, then the offline hooks), and as a host
 * subclasses it: `startTrigger` is the one method to override, and the rest (servicePath as it was at
 * construction, the stop on `offline:start:end`, the log line) stays the package's.
 */
const require = createRequire(import.meta.url);
type Running = { pollers: unknown[]; stop: () => Promise<void> };
type PluginClass = new (
  serverless: unknown,
  options: unknown,
  utils: unknown,
) => {
  hooks: Record<string, () => Promise<void>>;
  startTrigger(service: unknown, servicePath: string): Promise<Running>;
};
const ServerlessOfflineKafkaTrigger = require("../../plugin.cjs") as PluginClass;

describe("the plugin class", () => {
  it("starts through startTrigger with the service and the servicePath of its construction, and stops on end", async () => {
    const calls: unknown[][] = [];
    let stopped = 0;
    class HostPlugin extends ServerlessOfflineKafkaTrigger {
      override async startTrigger(service: unknown, servicePath: string): Promise<Running> {
        calls.push([service, servicePath]);
        return { pollers: [1, 2], stop: async () => void stopped++ };
      }
    }
    const notices: string[] = [];
    const service = { service: "host" };
    const serverless = { service, config: { servicePath: "/srv/host" } };
    const plugin = new HostPlugin(serverless, {}, { log: { notice: (line: string) => notices.push(line) } });
    // A bundler points servicePath at its build folder after the plugins are constructed.
    serverless.config.servicePath = "/srv/host/.esbuild/.build";

    await plugin.hooks["offline:start:init"]?.();
    expect(calls).toEqual([[service, "/srv/host"]]);
    expect(notices).toEqual(["offline-kafka: 2 Kafka consumer group(s) polling"]);

    await plugin.hooks["offline:start:end"]?.();
    expect(stopped).toBe(1);
  });
});
