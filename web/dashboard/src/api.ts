/**
 * The dashboard's only door to the pipeline: the same HTTP API every client uses, with the API key the user
 * typed (sessionStorage: this tab only, gone when it closes). The page never contains the key.
 */

const KEY_STORAGE = "txlog.apiKey";

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function storeKey(key: string): void {
  sessionStorage.setItem(KEY_STORAGE, key);
}

export function forgetKey(): void {
  sessionStorage.removeItem(KEY_STORAGE);
}

/** The key was refused (403): the user must enter another. */
export class KeyRefusedError extends Error {}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** One CSV response of GET /reports?format=csv and the cursor of the next, if more rows match. */
export interface CsvPart {
  text: string;
  nextCursor: string | null;
}

export interface Api {
  get<T>(path: string, query?: Record<string, string | undefined>): Promise<T>;
  csv(path: string, query?: Record<string, string | undefined>): Promise<CsvPart>;
}

/** A request the server has not answered by then is given up, so a panel never waits on it for ever. */
export const REQUEST_TIMEOUT_MS = 15_000;

export function api(base: string, key: string): Api {
  const request = async (path: string, query: Record<string, string | undefined>, accept: string) => {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) if (value !== undefined && value !== "") params.set(name, value);
    const url = `${base}${path}${params.size ? `?${params}` : ""}`;
    const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    const response = await fetch(url, { headers: { "x-api-key": key, accept }, cache: "no-store", signal: timeout }).catch(
      (error: unknown) => {
        if (timeout.aborted) throw new ApiError(0, `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`);
        throw error;
      },
    );
    if (response.status === 403) throw new KeyRefusedError("the API key was refused");
    if (!response.ok) {
      const body = (await response.json().catch(() => undefined)) as { message?: string } | undefined;
      throw new ApiError(response.status, body?.message ?? `${response.status} ${response.statusText}`);
    }
    return response;
  };
  return {
    async get<T>(path: string, query: Record<string, string | undefined> = {}): Promise<T> {
      const response = await request(path, query, "application/json");
      return (await response.json().catch(() => undefined)) as T;
    },
    async csv(path: string, query: Record<string, string | undefined> = {}): Promise<CsvPart> {
      const response = await request(path, { ...query, format: "csv" }, "text/csv");
      return { text: await response.text(), nextCursor: response.headers.get("next-cursor") };
    },
  };
}

// The shapes of the API's answers: types only, inferred from the server's zod schemas (nothing of lib/ is bundled).
export type { AccountView } from "../../../lib/accounts/schemas.js";
export type { DependencyHealth } from "../../../lib/health-schema.js";
export type { PipelineStats, StatsPart } from "../../../lib/pipeline/schemas.js";
export type { ReportPage, StoredTransaction as Transaction, Summary } from "../../../lib/reports/schemas.js";
