import { timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exposeMetrics } from "../../lib/metrics-exposition.js";

/** The worker's default metrics port: the OpenTelemetry/Prometheus exporter convention. */
export const DEFAULT_METRICS_PORT = 9464;

export interface MetricsServerOptions {
  port: number;
  host: string;
  /** Required in x-api-key, as the API's GET /metrics requires it (the same key, the same scrape config). */
  apiKey: string;
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

function sameKey(given: string | string[] | undefined, expected: string): boolean {
  if (typeof given !== "string") return false;
  const [a, b] = [Buffer.from(given), Buffer.from(expected)];
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * GET /metrics of this worker process (lib/metrics.ts: its batches, stored records, dead letters, handler
 * durations and its pollers' consumer lag per partition), in Prometheus' text format, on a port of its own.
 * Like the API's route, it answers 403 {"message":"Forbidden"} without the API key; any other path is 404.
 */
export async function serveMetrics({ port, host, apiKey }: MetricsServerOptions): Promise<MetricsServer> {
  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://worker").pathname;
    if (request.method !== "GET" || path !== "/metrics") {
      response.writeHead(404, { "Content-Type": "application/json" }).end('{"message":"Not Found"}');
      return;
    }
    if (!sameKey(request.headers["x-api-key"], apiKey)) {
      response.writeHead(403, { "Content-Type": "application/json" }).end('{"message":"Forbidden"}');
      return;
    }
    exposeMetrics({ configuredPipelineLag: false }).then(
      ({ contentType, body }) => response.writeHead(200, { "Content-Type": contentType, "Cache-Control": "no-store" }).end(body),
      () => response.writeHead(500, { "Content-Type": "application/json" }).end('{"message":"metrics unavailable"}'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
