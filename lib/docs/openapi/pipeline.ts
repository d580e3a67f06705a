import type { RouteConfig } from "@asteasolutions/zod-to-openapi";
import { z } from "zod";
import { DASHBOARD_ASSETS } from "../../dashboard/assets.js";
import { pipelineStatsExample } from "../../pipeline/schemas.js";
import { json, missingApiKey, PipelineStatsRef, problem } from "./components.js";

/** The dashboard, its figures and the Prometheus metrics. */
export const pipelineRoutes: RouteConfig[] = [
  {
    method: "get",
    path: "/pipeline/stats",
    operationId: "getPipelineStats",
    tags: ["pipeline"],
    summary: "What the dashboard shows: health, rates, lag, dead letters",
    description:
      "Kafka, PostgreSQL and the consumer group's health; accepted/s and stored/s per second over the last minute " +
      "(from the database); the consumer group's lag per partition (high watermark - committed offset); dead letters " +
      "of the transactions topic by reason, and the messages on the dead-letter topic. Each part is bounded (2 to 3 s); " +
      "a part whose dependency does not answer is null and `unavailable` says why.",
    responses: {
      200: { description: "The pipeline now.", ...json(PipelineStatsRef, pipelineStatsExample) },
      403: missingApiKey,
    },
  },
  {
    method: "get",
    path: "/metrics",
    operationId: "getMetrics",
    tags: ["pipeline"],
    summary: "Prometheus metrics",
    description:
      "This process's metrics in Prometheus' text format (prom-client): txlog_http_requests_total{method,route,status}, " +
      "txlog_handler_duration_seconds{handler}, txlog_produce_duration_seconds{outcome}, txlog_produced_messages_total, " +
      "txlog_consumer_batches_total{outcome}, txlog_consumer_records_total, txlog_records_stored_total, " +
      "txlog_records_duplicate_total, txlog_dead_letters_total{reason}, txlog_consumer_lag{topic,partition,group} " +
      "(read from Kafka at each scrape), and Node's process_* and nodejs_* metrics. `npm run worker` serves the same on " +
      "its own port (--metrics-port, default 9464).",
    responses: {
      200: {
        description: "The exposition.",
        content: { "text/plain; version=0.0.4; charset=utf-8": { schema: { type: "string" } } },
      },
      403: missingApiKey,
    },
  },
  {
    method: "get",
    path: "/",
    operationId: "getDashboard",
    tags: ["pipeline"],
    summary: "The pipeline dashboard",
    description:
      "An HTML page (public, like /docs): it asks for the API key once (kept in the tab's sessionStorage, never in the " +
      "page) and polls /pipeline/stats, /reports and /reports/summary with it. Every asset is served by this API.",
    security: [],
    responses: { 200: { description: "An HTML page.", content: { "text/html": { schema: { type: "string" } } } } },
  },
  {
    method: "get",
    path: "/dashboard/{file}",
    operationId: "getDashboardAsset",
    tags: ["pipeline"],
    summary: "The dashboard's script and style",
    security: [],
    request: { params: z.object({ file: z.enum(Object.keys(DASHBOARD_ASSETS) as [string, ...string[]]) }) },
    responses: {
      200: {
        description: "The bundled file.",
        content: { "text/javascript": { schema: { type: "string" } }, "text/css": { schema: { type: "string" } } },
      },
      404: problem("Not one of the dashboard's files.", {
        status: 404,
        error: "Not Found",
        message: "no dashboard asset favicon.ico (is the dashboard built? npm run build:dashboard)",
      }),
    },
  },
];
