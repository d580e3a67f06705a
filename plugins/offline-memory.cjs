"use strict";
// What `serverless offline start` would otherwise keep in memory for nothing (measured with `npm run bench`,
// stage 6, and /proc; docs/performance.md):
// - serverless-esbuild keeps one incremental esbuild context per function and a file watcher, all in esbuild's
//   service process: 0.7-1.7 GB of RSS for our functions. Unless TXLOG_WATCH=true (`npm start -- --watch`):
//   no incremental contexts (skipRebuild: each function is bundled once with esbuild.build), no watched paths
//   (serverless-esbuild always starts its watcher; with no pattern it watches nothing), and once the bundles are
//   built esbuild's service process is stopped (nothing needs it any more).
// - Start-up garbage (osls's configuration validator, bundling, plugin set-up): ~70 MB of heap V8 keeps
//   committed until some later full collection. One full collection once the server is ready gives it back.
// With TXLOG_WATCH=true serverless-esbuild's own behaviour applies (serverless.yml's custom.esbuild.watch).

const WATCHING = process.env.TXLOG_WATCH === "true";

class OfflineMemoryPlugin {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = { "offline:start:ready": () => this.collectStartupGarbage() };
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

  collectStartupGarbage() {
    // Node's documented way to reach gc() without starting the process with --expose-gc (which
    // serverless-offline's own process does not get); one collection, a few seconds after "ready".
    require("node:v8").setFlagsFromString("--expose_gc");
    const gc = require("node:vm").runInNewContext("gc");
    setTimeout(() => gc(), 3_000).unref();
  }
}

module.exports = OfflineMemoryPlugin;
