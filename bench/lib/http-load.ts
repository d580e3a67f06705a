import autocannon, { type Result } from "autocannon";

export interface LoadOptions {
  url: string;
  method?: "GET" | "POST";
  connections: number;
  durationSec: number;
  /** Pre-serialised request bodies, sent round-robin (one per request). */
  bodies?: readonly string[];
  /** A fixed offered rate over all connections (requests/s); unlimited when absent. */
  overallRate?: number;
  /** Extra request headers (the API key). */
  headers?: Record<string, string>;
  /** The status that counts as success (202 for the API: durably acknowledged). */
  successStatus: number;
}

export interface LoadResult {
  durationSec: number;
  /** Responses with `successStatus`. */
  succeeded: number;
  failed: number;
  errors: number;
  timeouts: number;
  succeededPerSec: number;
  /** Latency of 2xx responses, ms (autocannon records only those). */
  latencyMs: { p50: number; p90: number; p99: number; mean: number; max: number };
  statusCounts: Record<string, number>;
}

export function summarise(result: Result, successStatus: number): LoadResult {
  const statusCounts = Object.fromEntries(Object.entries(result.statusCodeStats).map(([status, { count }]) => [status, count]));
  const succeeded = statusCounts[String(successStatus)] ?? 0;
  const total = Object.values(statusCounts).reduce((sum, count) => sum + count, 0);
  return {
    durationSec: result.duration,
    succeeded,
    failed: total - succeeded,
    errors: result.errors,
    timeouts: result.timeouts,
    succeededPerSec: result.duration > 0 ? succeeded / result.duration : 0,
    latencyMs: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      mean: result.latency.mean,
      max: result.latency.max,
    },
    statusCounts,
  };
}

/** Runs autocannon in this process; the bench does nothing else meanwhile, so it has a core to itself. */
export function runLoad(options: LoadOptions): Promise<LoadResult> {
  const bodies = options.bodies ?? [];
  let next = 0;
  return new Promise((resolveLoad, reject) => {
    autocannon(
      {
        url: options.url,
        connections: options.connections,
        duration: options.durationSec,
        timeout: 10,
        ...(options.overallRate ? { overallRate: options.overallRate } : {}),
        requests: [
          {
            method: options.method ?? "POST",
            headers: { "content-type": "application/json", ...options.headers },
            ...(bodies.length
              ? {
                  setupRequest: (request) => {
                    const body = bodies[next] as string;
                    next = (next + 1) % bodies.length;
                    return { ...request, body };
                  },
                }
              : {}),
          },
        ],
      },
      (error, result) => (error ? reject(error) : resolveLoad(summarise(result, options.successStatus))),
    );
  });
}
