"use strict";
// Builds the dashboard's browser bundle (web/dashboard/build.cjs) whenever the service is served or packaged,
// so `npm start`, the tests and `sls package`/`deploy` always carry the current dashboard and nothing
// generated is committed. serverless.yml's package.patterns put dist/dashboard/ into the package.
const { buildDashboard } = require("../web/dashboard/build.cjs");

class DashboardBuildPlugin {
  constructor(_serverless, _options, utils) {
    this.log = utils?.log;
    const build = () => this.build();
    this.hooks = {
      "before:offline:start:init": build,
      "before:package:createDeploymentArtifacts": build,
      "before:deploy:function:packageFunction": build,
    };
  }

  async build() {
    const started = Date.now();
    const files = await buildDashboard();
    this.log?.verbose?.(`dashboard built in ${Date.now() - started} ms: ${files.map(({ name }) => name).join(", ")}`);
  }
}

module.exports = DashboardBuildPlugin;
