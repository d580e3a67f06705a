import { config } from "../config.js";

/**
 * The largest request body each route accepts, in bytes, by serverless.yml's method and path. Every other
 * route takes at most MAX_BODY_BYTES. The handlers answer 413 over it (lib/http/json-body.ts); the local
 * server (plugins/offline-guard) answers 413 before it reads more than this of a body.
 */
const ROUTE_LIMITS: Record<string, number> = {
  "POST /transaction": config.MAX_BODY_BYTES,
  "POST /transactions": config.MAX_BULK_BODY_BYTES,
};

export function maxBodyBytes(method: string, path: string): number {
  return ROUTE_LIMITS[`${method.toUpperCase()} ${path}`] ?? config.MAX_BODY_BYTES;
}
