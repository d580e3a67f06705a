"use strict";
// Serverless Framework v3 loads plugins with require(); this CommonJS shim registers tsx and imports
// the TypeScript implementation (index.ts, next to this file) only when `serverless offline start` runs,
// so `sls package` and `sls invoke local` never load it.
const { resolve } = require("node:path");
const { pathToFileURL } = require("node:url");

class OfflineKafkaPlugin {
  constructor(serverless, _options, utils) {
    this.serverless = serverless;
    this.log = utils?.log;
    // Captured now: serverless-esbuild later points servicePath at its build folder; we run the sources.
    this.servicePath = serverless.config.servicePath;
    this.running = undefined;
    this.hooks = {
      // serverless-offline fires these for other plugins; this plugin is listed before it, so on `end`
      // the pollers commit and disconnect before serverless-offline exits the process.
      "offline:start:init": () => this.start(),
      "offline:start:end": () => this.end(),
    };
  }

  async start() {
    // Importing tsx/esm registers its loader hooks, as `node --import tsx/esm` does. (tsx/esm/api's
    // register() is broken when required from CommonJS in tsx 4.23: it resolves its loader at a wrong path.)
    await import("tsx/esm");
    const { startOfflineKafka } = await import(pathToFileURL(resolve(__dirname, "index.ts")).href);
    this.running = await startOfflineKafka(this.serverless.service, this.servicePath);
    const count = this.running?.pollers.length ?? 0;
    this.log?.notice?.(`offline-kafka: ${count} Kafka consumer group(s) polling`);
  }

  async end() {
    await this.running?.stop();
  }
}

module.exports = OfflineKafkaPlugin;
