"use strict";
// txlog's binding of the local Kafka trigger (packages/serverless-offline-kafka-trigger): Serverless v3 loads
// plugins with require(); this CommonJS shim registers tsx and imports binding.ts, which starts the package's
// pollers with txlog's hooks, only when `serverless offline start` runs (never on `sls package` or `invoke local`).
const { resolve } = require("node:path");
const { pathToFileURL } = require("node:url");

class TxlogOfflineKafkaPlugin {
  constructor(serverless, _options, utils) {
    this.serverless = serverless;
    this.log = utils?.log;
    // Captured now: serverless-esbuild later points servicePath at its build folder; we run the sources.
    this.servicePath = serverless.config.servicePath;
    this.running = undefined;
    this.hooks = {
      // Listed before serverless-offline, so on `end` the pollers commit and disconnect before it exits the process.
      "offline:start:init": () => this.start(),
      "offline:start:end": () => this.end(),
    };
  }

  async start() {
    // Importing tsx/esm registers its loader hooks, as `node --import tsx/esm` does. (tsx/esm/api's
    // register() is broken when required from CommonJS in tsx 4.23: it resolves its loader at a wrong path.)
    // tsx maps the package's name to its sources by tsconfig.json's paths, wherever the process was started.
    process.env.TSX_TSCONFIG_PATH ??= resolve(__dirname, "../../tsconfig.json");
    await import("tsx/esm");
    const { startTxlogOffline } = await import(pathToFileURL(resolve(__dirname, "binding.ts")).href);
    this.running = await startTxlogOffline(this.serverless.service, this.servicePath);
    const count = this.running?.pollers.length ?? 0;
    this.log?.notice?.(`offline-kafka: ${count} Kafka consumer group(s) polling`);
  }

  async end() {
    await this.running?.stop();
  }
}

module.exports = TxlogOfflineKafkaPlugin;
