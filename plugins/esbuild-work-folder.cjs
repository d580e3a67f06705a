"use strict";
// Every serverless command bundles into an esbuild work folder of its own, so commands run side by side
// never touch each other's bundles. With one shared folder, `sls package` beside `npm start` deleted the
// folder the running server loads its handlers from when it finished (serverless-esbuild removes its work
// folder after packaging): every route answered 502 "Cannot find module" until a restart. A second
// `npm start`, or `sls invoke local`, rewrote the bundles under the first.
//
// Without ESBUILD_WORK_FOLDER (serverless.yml's custom.esbuild.outputWorkFolder): .esbuild/<command>.pid-<pid>,
// e.g. .esbuild/offline-start.pid-4242, removed when the process exits; folders left by a process that no longer
// runs (killed with SIGKILL) are removed by the next command. An explicit folder is the caller's to manage.
// Listed before serverless-esbuild: its `initialize` hook reads the folder from custom.esbuild.
const { readdirSync, rmSync } = require("node:fs");
const { join } = require("node:path");

const ROOT = ".esbuild";
const OWNED = /\.pid-(\d+)$/;

class EsbuildWorkFolderPlugin {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = { initialize: () => this.assign() };
  }

  assign() {
    const custom = this.serverless.service.custom ?? {};
    if (custom.esbuild?.outputWorkFolder) return;
    const serviceDir = this.serverless.serviceDir ?? this.serverless.config.serviceDir;
    const command = (this.serverless.processedInput?.commands ?? []).join("-") || "serverless";
    const folder = join(ROOT, `${command}.pid-${process.pid}`);
    removeAbandoned(join(serviceDir, ROOT));
    custom.esbuild = { ...custom.esbuild, outputWorkFolder: folder };
    this.serverless.service.custom = custom;
    process.once("exit", () => rmSync(join(serviceDir, folder), { recursive: true, force: true }));
  }
}

/** Work folders whose process is gone. A process of another user (EPERM) or a reused pid counts as running. */
function removeAbandoned(root) {
  let names;
  try {
    names = readdirSync(root);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(OWNED.exec(name)?.[1]);
    if (!pid || pid === process.pid || isRunning(pid)) continue;
    rmSync(join(root, name), { recursive: true, force: true });
  }
}

function isRunning(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === "EPERM";
  }
}

module.exports = EsbuildWorkFolderPlugin;
