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

export interface Api {
  get<T>(path: string, query?: Record<string, string | undefined>): Promise<T>;
}

/** A request the server has not answered by then is given up, so a panel never waits on it for ever. */
export const REQUEST_TIMEOUT_MS = 15_000;

export function api(base: string, key: string): Api {
  return {
    async get<T>(path: string, query: Record<string, string | undefined> = {}): Promise<T> {
      const params = new URLSearchParams();
      for (const [name, value] of Object.entries(query)) if (value !== undefined && value !== "") params.set(name, value);
      const url = `${base}${path}${params.size ? `?${params}` : ""}`;
      const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
      const response = await fetch(url, {
        headers: { "x-api-key": key, accept: "application/json" },
        cache: "no-store",
        signal: timeout,
      }).catch((error: unknown) => {
        if (timeout.aborted) throw new ApiError(0, `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`);
        throw error;
      });
      if (response.status === 403) throw new KeyRefusedError("the API key was refused");
      const body = (await response.json().catch(() => undefined)) as { message?: string } | undefined;
      if (!response.ok) throw new ApiError(response.status, body?.message ?? `${response.status} ${response.statusText}`);
      return body as T;
    },
  };
}

// The shapes of the API's answers (lib/pipeline/stats.ts, lib/reports/*.ts; documented at /openapi.json).

export interface DependencyHealth {
  /** "degraded": the database answers but its tables do not (a lock, statements timing out). */
  status: "up" | "degraded" | "down";
  latencyMs: number;
  error?: string;
}

export interface ConsumerHealth extends DependencyHealth {
  groupId: string;
  state: string;
  members: number;
}

export interface PipelineStats {
  at: string;
  topic: string;
  health: { kafka: DependencyHealth; database: DependencyHealth; consumer: ConsumerHealth };
  throughput: {
    windowSeconds: number;
    acceptedPerSecond: number;
    storedPerSecond: number;
    series: { at: string; accepted: number; stored: number }[];
  } | null;
  lag: {
    topic: string;
    groupId: string;
    total: number;
    partitions: { partition: number; highWatermark: number; committedOffset: number | null; lag: number }[];
  } | null;
  deadLetters: {
    total: number;
    byReason: { reason: string; count: number; lastAt: string }[];
    recent: { id: number; reason: string; detail: string; partition: number; offset: number; createdAt: string }[];
  } | null;
  /** The dead-letter topic as Kafka counts it: every message on it, whoever wrote it. */
  deadLetterTopic: { topic: string; messages: number } | null;
  /** Why each null part could not be read (a SQLSTATE, a timeout, an error code). */
  unavailable: Partial<Record<StatsPart, string>>;
}

export type StatsPart = "throughput" | "lag" | "deadLetters" | "deadLetterTopic";

export interface Transaction {
  id: string;
  step: number;
  type: string;
  amount: string;
  nameOrig: string;
  nameDest: string;
  isFraud: boolean;
  isFlaggedFraud: boolean;
  status: "Historical" | "Completed";
  receivedAt: string;
  persistedAt: string;
}

export interface ReportPage {
  items: Transaction[];
  nextCursor: string | null;
}

export interface Volume {
  count: number;
  amount: string;
}

export interface Summary extends Volume {
  byType: (Volume & { type: string })[];
  byStatus: (Volume & { status: string })[];
  byStep: (Volume & { step: number })[];
  byStepTruncated?: boolean;
  fraud: Volume;
  flaggedFraud: Volume;
}
