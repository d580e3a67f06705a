import { OpenAPIRegistry, OpenApiGeneratorV31, type RouteConfig } from "@asteasolutions/zod-to-openapi";
import type { OpenAPIObject } from "openapi3-ts/oas31";
import { API_KEY_HEADER } from "../http/api-key.js";
import { accountRoutes } from "./openapi/accounts.js";
import { pipelineRoutes } from "./openapi/pipeline.js";
import { reportRoutes } from "./openapi/reports.js";
import { serviceRoutes } from "./openapi/service.js";
import { transactionRoutes } from "./openapi/transactions.js";

/**
 * The OpenAPI 3.1 document of the HTTP API, generated from the zod schemas the handlers validate and
 * answer with, so it cannot drift from them. Each resource's routes are in lib/docs/openapi/; the
 * examples sit beside the schemas they illustrate, and test/unit/openapi.test.ts parses every one with it.
 */

/** The document's info.version: the package's version (a unit test keeps them equal; lib/ reads no file outside itself). */
export const API_VERSION = "0.1.0";

export const API_KEY_SCHEME = "ApiKey";

/** Every route of serverless.yml except the Swagger UI assets (GET /docs/{file+}). */
export const documentedRoutes: RouteConfig[] = [
  ...transactionRoutes,
  ...reportRoutes,
  ...accountRoutes,
  ...serviceRoutes,
  ...pipelineRoutes,
];

const registry = new OpenAPIRegistry();

registry.registerComponent("securitySchemes", API_KEY_SCHEME, {
  type: "apiKey",
  in: "header",
  name: API_KEY_HEADER,
  description:
    "API Gateway API key (the functions are `private: true`). Locally, serverless-offline checks it too. " +
    "This page never shows it: enter it under Authorize (locally, `npm start` prints it in its terminal).",
});

for (const route of documentedRoutes) registry.registerPath(route);

const generated = new OpenApiGeneratorV31(registry.definitions).generateDocument({
  openapi: "3.1.0",
  info: {
    title: "txlog: event-driven transaction log",
    version: API_VERSION,
    description:
      "POST a PaySim transaction: it is produced to Kafka, a consumer stores it in PostgreSQL, and the reports read it " +
      "back. Money is exact: decimal strings in, NUMERIC in the database, decimal strings out.",
  },
  security: [{ [API_KEY_SCHEME]: [] }],
  tags: [
    { name: "transactions", description: "Submit and look up transactions." },
    { name: "reports", description: "Read the stored log." },
    { name: "health", description: "Dependency status." },
    { name: "pipeline", description: "The dashboard, its figures and the Prometheus metrics." },
    { name: "docs", description: "This documentation." },
  ],
});

/**
 * The document with `servers` pointing at the API's base path, so "Try it out" calls the server that
 * served the page: "/" under serverless-offline, "/{stage}" behind API Gateway.
 */
export function openApiDocument(serverUrl = "/"): OpenAPIObject {
  return { ...generated, servers: [{ url: serverUrl }] };
}
