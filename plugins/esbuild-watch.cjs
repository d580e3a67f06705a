"use strict";
// serverless-esbuild, under `serverless offline start`, keeps one incremental esbuild context per function
// and a file watcher, all in esbuild's service process: measured 0.7-1.7 GB of RSS for our 14 functions,
// more than the API itself, for a convenience nobody uses outside development. So, unless TXLOG_WATCH=true
// (`npm start -- --watch`):
// - no incremental contexts (skipRebuild: each function is bundled once with esbuild.build),
// - no watched paths (serverless-esbuild always starts its watcher; with no pattern it watches nothing),
// - once the bundles are built, esbuild's service process is stopped (esbuild.stop(); nothing needs it).
// With TXLOG_WATCH=true serverless-esbuild's own behaviour applies (serverless.yml's custom.esbuild.watch).

const WATCHING = process.env.TXLOG_WATCH === "true";

class EsbuildWatchPlugin {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = {};
    if (WATCHING) return;
    // Listed before serverless-esbuild: this runs before its `initialize` hook reads custom.esbuild.
    this.hooks.initialize = () => this.configure();
    // After every before:offline:start:init hook, serverless-esbuild's bundling among them.
    this.hooks["offline:start:init"] = () => this.stopEsbuild();
  }

  configure() {
    const custom = this.serverless.service.custom ?? {};
    custom.esbuild = { ...custom.esbuild, skipRebuild: true, watch: { ...custom.esbuild?.watch, pattern: [] } };
    this.serverless.service.custom = custom;
  }

  async stopEsbuild() {
    try {
      await require("esbuild").stop();
    } catch {
      // An esbuild without stop() (< 0.18) keeps its service; nothing else depends on it.
    }
  }
}

module.exports = EsbuildWatchPlugin;
