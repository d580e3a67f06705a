import type { Transaction } from "../../lib/transaction.js";
import { paysimBody, readPaysimCsv } from "../paysim/csv.js";
import { type HttpResult, JsonPoster } from "./http.js";
import { LatencyRecorder, type LatencySummary, Pacer, Semaphore } from "./stats.js";

export interface SimulateOptions {
  url: string;
  /** Sent as x-api-key (every API route but the docs requires it). */
  apiKey?: string;
  file: string;
  /** Data rows to send from the top of the file (all when undefined). */
  rows?: number;
  concurrency: number;
  /** Transactions per second; unlimited when undefined. */
  rate?: number;
  /** 1: one POST /transaction per row; B > 1: POST /transactions with arrays of B rows. */
  bulk: number;
  requestTimeoutMs?: number;
  /** Keep what verification needs (ids and row fingerprints, ~150 bytes a row). */
  keepAccepted?: boolean;
  onProgress?: (progress: Progress) => void;
}

export interface Progress {
  read: number;
  sent: number;
  accepted: number;
  rejected: number;
  elapsedMs: number;
}

export interface AcceptedRow {
  id: string;
  fingerprint: string;
}

export interface SimulateReport {
  url: string;
  file: string;
  bulk: number;
  concurrency: number;
  rate: number | null;
  /** Transactions sent (in requests that got an answer or failed). */
  sent: number;
  requests: number;
  accepted: number;
  /** Transactions rejected, by HTTP status ("network" when no response came). */
  rejected: Record<string, number>;
  durationMs: number;
  requestsPerSecond: number;
  transactionsPerSecond: number;
  /** Request latency (send to full response). */
  latencyMs: LatencySummary;
  /** The first few rejection bodies, for diagnosis. */
  sampleErrors: string[];
  startedAt: string;
  endedAt: string;
}

/** What identifies a row's content, to find rows stored more than once under different ids. */
export function fingerprintOf(transaction: Transaction): string {
  return [transaction.step, transaction.type, transaction.nameOrig, transaction.amount, transaction.nameDest].join("|");
}

/** The accepted ids of a 202 answer: `{ id }` for one, `{ ids: [...] }` for a bulk request. */
export function acceptedIdsOf(result: HttpResult, expected: number): string[] | undefined {
  try {
    const body = JSON.parse(result.body) as { id?: unknown; ids?: unknown };
    const ids = Array.isArray(body.ids) ? body.ids : typeof body.id === "string" ? [body.id] : [];
    return ids.length === expected && ids.every((id) => typeof id === "string") ? (ids as string[]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Replays a PaySim CSV against the API: streams the file (batches of `bulk` rows), keeps at most
 * `concurrency` requests in flight over keep-alive connections, paces to `rate` transactions per
 * second, and measures every request. Does not retry: a retry after a lost answer could store a
 * row twice, which --verify is there to catch, not to cause.
 */
export async function simulate(options: SimulateOptions): Promise<{ report: SimulateReport; acceptedRows: AcceptedRow[] }> {
  const poster = new JsonPoster(options.url, options.concurrency, options.apiKey);
  const slots = new Semaphore(options.concurrency);
  const pacer = new Pacer(options.rate);
  const latency = new LatencyRecorder();
  const rejected: Record<string, number> = {};
  const sampleErrors: string[] = [];
  const acceptedRows: AcceptedRow[] = [];
  const path = options.bulk > 1 ? "/transactions" : "/transaction";
  const startedAt = new Date();
  const started = performance.now();
  let read = 0;
  let sent = 0;
  let requests = 0;
  let accepted = 0;
  let rejectedCount = 0;
  let failure: unknown;

  const reject = (status: string, count: number, detail: string) => {
    rejected[status] = (rejected[status] ?? 0) + count;
    rejectedCount += count;
    if (sampleErrors.length < 5) sampleErrors.push(`${status}: ${detail.slice(0, 300)}`);
  };
  const progress = () =>
    options.onProgress?.({ read, sent, accepted, rejected: rejectedCount, elapsedMs: performance.now() - started });

  const send = async (batch: { fields: string[]; transaction: Transaction }[]) => {
    const payload =
      options.bulk > 1 ? batch.map((row) => paysimBody(row.fields)) : paysimBody((batch[0] as { fields: string[] }).fields);
    const requestStarted = performance.now();
    try {
      const result = await poster.post(path, payload, options.requestTimeoutMs);
      latency.record(performance.now() - requestStarted);
      if (result.status === 202) {
        const ids = acceptedIdsOf(result, batch.length);
        if (!ids) {
          reject("202-unreadable", batch.length, result.body);
        } else {
          accepted += ids.length;
          if (options.keepAccepted) {
            ids.forEach((id, index) => {
              acceptedRows.push({ id, fingerprint: fingerprintOf((batch[index] as { transaction: Transaction }).transaction) });
            });
          }
        }
      } else {
        reject(String(result.status), batch.length, result.body);
      }
    } catch (error) {
      latency.record(performance.now() - requestStarted);
      reject("network", batch.length, error instanceof Error ? error.message : String(error));
    } finally {
      sent += batch.length;
      requests++;
      slots.release();
    }
  };

  let batch: { fields: string[]; transaction: Transaction }[] = [];
  const dispatch = async () => {
    const current = batch;
    batch = [];
    await pacer.take(current.length);
    await slots.acquire();
    void send(current);
  };
  const ticker = setInterval(progress, 250);
  try {
    for await (const row of readPaysimCsv(options.file, { limit: options.rows })) {
      read++;
      batch.push({ fields: row.fields, transaction: row.transaction });
      if (batch.length >= options.bulk) await dispatch();
    }
    if (batch.length > 0) await dispatch();
  } catch (error) {
    failure = error;
  } finally {
    await slots.drain();
    clearInterval(ticker);
    progress();
    poster.close();
  }
  if (failure) throw failure;

  const durationMs = performance.now() - started;
  const seconds = durationMs / 1000;
  return {
    acceptedRows,
    report: {
      url: options.url,
      file: options.file,
      bulk: options.bulk,
      concurrency: options.concurrency,
      rate: options.rate ?? null,
      sent,
      requests,
      accepted,
      rejected,
      durationMs: Math.round(durationMs),
      requestsPerSecond: Math.round(requests / seconds),
      transactionsPerSecond: Math.round(sent / seconds),
      latencyMs: latency.summary(),
      sampleErrors,
      startedAt: startedAt.toISOString(),
      endedAt: new Date().toISOString(),
    },
  };
}
