"use strict";
// API Gateway stage throttling, which osls has no setting for. The usage plan's throttle
// (provider.apiGateway.usagePlan) only counts requests that carry an API key, so the public routes (/health,
// the docs, the dashboard) need limits of their own. osls creates the stage through the
// AWS::ApiGateway::Deployment's StageName, so the limits go into that resource's StageDescription: a default
// for every method of the stage, and lower ones for each route without `private: true`.

const limitsSchema = {
  type: "object",
  properties: { rateLimit: { type: "number", minimum: 0 }, burstLimit: { type: "integer", minimum: 0 } },
  required: ["rateLimit", "burstLimit"],
  additionalProperties: false,
};

/** A method's ResourcePath as MethodSettings wants it: "/" for the root, else each "/" written as "~1". */
function resourcePath(path) {
  const trimmed = String(path).replace(/^\/+|\/+$/g, "");
  return trimmed === "" ? "/" : `/~1${trimmed.split("/").join("~1")}`;
}

const throttle = ({ rateLimit, burstLimit }) => ({
  ThrottlingRateLimit: Number(rateLimit),
  ThrottlingBurstLimit: Number(burstLimit),
});

class StageThrottlePlugin {
  constructor(serverless) {
    this.serverless = serverless;
    serverless.configSchemaHandler?.defineCustomProperties({
      properties: {
        stageThrottle: {
          type: "object",
          properties: { stage: limitsSchema, publicRoutes: limitsSchema },
          required: ["stage", "publicRoutes"],
          additionalProperties: false,
        },
      },
    });
    this.hooks = { "after:package:compileEvents": () => this.compile() };
  }

  /** Every http event without `private: true`, as { path, method }. */
  publicRoutes() {
    const routes = [];
    for (const name of this.serverless.service.getAllFunctions()) {
      for (const event of this.serverless.service.getFunction(name).events ?? []) {
        const http = event.http;
        if (!http || typeof http !== "object" || http.private === true) continue;
        routes.push({ path: http.path, method: String(http.method).toUpperCase() });
      }
    }
    return routes;
  }

  compile() {
    const settings = this.serverless.service.custom?.stageThrottle;
    if (!settings) return;
    const resources = this.serverless.service.provider.compiledCloudFormationTemplate.Resources;
    const deployments = Object.values(resources).filter((resource) => resource.Type === "AWS::ApiGateway::Deployment");
    for (const deployment of deployments) {
      deployment.Properties.StageDescription = {
        ...deployment.Properties.StageDescription,
        ...throttle(settings.stage),
        MethodSettings: this.publicRoutes().map(({ path, method }) => ({
          ResourcePath: resourcePath(path),
          HttpMethod: method,
          ...throttle(settings.publicRoutes),
        })),
      };
    }
  }
}

module.exports = StageThrottlePlugin;
