"use strict";
// The Serverless Framework (v3, osls) loads plugins with require(): this CommonJS class is the plugin. It
// imports the trigger (ES modules, dist/) only when `serverless offline start` runs, so `sls package` and
// `sls invoke local` never load it or KafkaJS.
const { pathToFileURL } = require("node:url");
const { join } = require("node:path");

class ServerlessOfflineKafkaTrigger {
  constructor(serverless, _options, utils) {
    this.serverless = serverless;
    this.log = utils?.log;
    // Captured now: a bundling plugin (serverless-esbuild) may later point servicePath at its build folder.
    this.servicePath = serverless.config.servicePath;
    this.running = undefined;
    this.hooks = {
      // serverless-offline fires these for other plugins. Listed before serverless-offline, on `end` the
      // pollers commit and disconnect before serverless-offline exits the process.
      "offline:start:init": () => this.start(),
      "offline:start:end": () => this.end(),
    };
  }

  /**
   * Starts the pollers of the service's Kafka events and answers what stops them. A host that binds its own
   * hooks subclasses this plugin and overrides this method only (README, "Hooks").
   */
  async startTrigger(service, servicePath) {
    const { startOfflineKafka } = await import(pathToFileURL(join(__dirname, "dist", "index.js")).href);
    return startOfflineKafka(service, servicePath);
  }

  async start() {
    this.running = await this.startTrigger(this.serverless.service, this.servicePath);
    const count = this.running?.pollers.length ?? 0;
    this.log?.notice?.(`offline-kafka: ${count} Kafka consumer group(s) polling`);
  }

  async end() {
    await this.running?.stop();
  }
}

module.exports = ServerlessOfflineKafkaTrigger;
