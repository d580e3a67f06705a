"use strict";
// txlog's binding of the local Kafka trigger (packages/serverless-offline-kafka-trigger): the package's plugin,
// starting the pollers through binding.ts with txlog's hooks. Serverless v3 loads plugins with require(); the
// binding is imported only when `serverless offline start` runs (never on `sls package` or `invoke local`).
const { resolve } = require("node:path");
const { pathToFileURL } = require("node:url");
const ServerlessOfflineKafkaTrigger = require("serverless-offline-kafka-trigger/plugin");

class TxlogOfflineKafkaPlugin extends ServerlessOfflineKafkaTrigger {
  async startTrigger(service, servicePath) {
    // Importing tsx/esm registers its loader hooks, as `node --import tsx/esm` does. (tsx/esm/api's
    // register() is broken when required from CommonJS in tsx 4.23: it resolves its loader at a wrong path.)
    // tsx maps the package's name to its sources by tsconfig.json's paths, wherever the process was started.
    process.env.TSX_TSCONFIG_PATH ??= resolve(__dirname, "../../tsconfig.json");
    await import("tsx/esm");
    const { startTxlogOffline } = await import(pathToFileURL(resolve(__dirname, "binding.ts")).href);
    return startTxlogOffline(service, servicePath);
  }
}

module.exports = TxlogOfflineKafkaPlugin;
