import type { RouteConfig } from "@asteasolutions/zod-to-openapi";
import { HEALTH_CACHE_MS } from "../../health.js";
import { healthExamples } from "../../health-schema.js";
import { BROKER_RETRY_AFTER_SECONDS } from "../../http/problem.js";
import { HealthRef, json, retryAfter } from "./components.js";

/** The public routes: GET /health, GET /openapi.json, GET /docs. */
export const serviceRoutes: RouteConfig[] = [
  {
    method: "get",
    path: "/health",
    operationId: "getHealth",
    tags: ["health"],
    summary: "Whether Kafka and PostgreSQL answer",
    description:
      "A Kafka metadata request and `select 1`, in parallel, each bounded (2 s). Public, for load balancers and probes; " +
      `errors name a timeout or an error code, never hosts. One check answers every request for ${HEALTH_CACHE_MS / 1000} s ` +
      "(X-Checked-At: when it ran), so probes cost the dependencies nothing more.",
    security: [],
    responses: {
      200: { description: "Every dependency is up.", ...json(HealthRef, healthExamples.up) },
      503: {
        description: "A dependency is down; POSTs answer 503 while Kafka is.",
        ...json(HealthRef, healthExamples.kafkaDown),
        headers: retryAfter(BROKER_RETRY_AFTER_SECONDS),
      },
    },
  },
  {
    method: "get",
    path: "/openapi.json",
    operationId: "getOpenApiDocument",
    tags: ["docs"],
    summary: "This document",
    security: [],
    responses: {
      200: { description: "The OpenAPI 3.1 document.", content: { "application/json": { schema: { type: "object" } } } },
    },
  },
  {
    method: "get",
    path: "/docs",
    operationId: "getSwaggerUi",
    tags: ["docs"],
    summary: "Swagger UI for this document",
    security: [],
    responses: { 200: { description: "An HTML page.", content: { "text/html": { schema: { type: "string" } } } } },
  },
];
