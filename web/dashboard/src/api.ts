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

export function api(base: string, key: string): Api {
  return {
    async get<T>(path: string, query: Record<string, string | undefined> = {}): Promise<T> {
      const params = new URLSearchParams();
      for (const [name, value] of Object.entries(query)) if (value !== undefined && value !== "") params.set(name, value);
      const url = `${base}${path}${params.size ? `?${params}` : ""}`;
      const response = await fetch(url, { headers: { "x-api-key": key, accept: "application/json" }, cache: "no-store" });
      if (response.status === 403) throw new KeyRefusedError("the API key was refused");
      const body = (await response.json().catch(() => undefined)) as { message?: string } | undefined;
      if (!response.ok) throw new ApiError(response.status, body?.message ?? `${response.status} ${response.statusText}`);
      return body as T;
    },
  };
}

// The shapes of the API's answers (lib/pipeline/stats.ts, lib/reports/*.ts; documented at /openapi.json).

export interface DependencyHealth {
  status: "up" | "down";
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
}

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
