"use strict";
// Guards serverless-offline's HTTP server (guard.ts): 421 for a Host it does not answer to, 403 and no CORS
// grant for a web page of a foreign origin, 413 before a body over the route's limit is read whole. Only
// under `serverless offline start`; a deployed API Gateway has none of serverless-offline's CORS and limits
// bodies to 10 MB itself (docs/api.md).
const { dirname, join, resolve } = require("node:path");
const { pathToFileURL } = require("node:url");

class OfflineGuardPlugin {
  constructor(_serverless, _options, utils) {
    this.log = utils?.log;
    // Listed before serverless-offline: this runs before its own offline:start:init creates the server.
    this.hooks = { "offline:start:init": () => this.install() };
  }

  async install() {
    await import("tsx/esm");
    const { guardHttpServer } = await import(pathToFileURL(resolve(__dirname, "guard.ts")).href);
    const { infraSettings } = await import(pathToFileURL(resolve(__dirname, "../../scripts/infra/settings.ts")).href);
    const { maxBodyBytes } = await import(pathToFileURL(resolve(__dirname, "../../lib/http/body-limits.ts")).href);
    const { HTTP_HOST, HTTP_ALLOWED_HOSTS, CORS_ALLOWED_ORIGINS } = infraSettings;
    const options = {
      allowedHosts: [HTTP_HOST, ...HTTP_ALLOWED_HOSTS],
      allowedOrigins: CORS_ALLOWED_ORIGINS,
      maxBodyBytes,
    };
    // serverless-offline 13.9 keeps its hapi server private; Http#getServer() is its one accessor, and
    // Http#start() runs once every route exists, just before the server listens. Its package exports do not
    // name the file, so it is imported by path (the same module serverless-offline imports).
    const httpFile = join(dirname(require.resolve("serverless-offline")), "events/http/Http.js");
    const { default: Http } = await import(pathToFileURL(httpFile).href);
    const start = Http.prototype.start;
    Http.prototype.start = function startGuarded() {
      guardHttpServer(this.getServer(), options);
      return start.call(this);
    };
    this.log?.notice?.(
      `offline-guard: answers Host localhost, IP addresses${options.allowedHosts.map((host) => `, ${host}`).join("")}; ` +
        `CORS for ${CORS_ALLOWED_ORIGINS.length ? CORS_ALLOWED_ORIGINS.join(", ") : "no other origin"}`,
    );
  }
}

module.exports = OfflineGuardPlugin;
