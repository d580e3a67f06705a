import { randomInt } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { OfflineServer } from "./offline.js";

/** A valid PaySim transaction as a client posts it; amounts vary so rows differ. */
export function paysimBody(sequence: number): Record<string, unknown> {
  const cents = 100 + (sequence % 100_000);
  return {
    step: 1 + (sequence % 743),
    type: "PAYMENT",
    amount: `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, "0")}`,
    nameOrig: `C${randomInt(1e8, 1e9)}`,
    oldbalanceOrg: "100000.00",
    newbalanceOrig: "99000.00",
    nameDest: `M${randomInt(1e8, 1e9)}`,
    oldbalanceDest: "0",
    newbalanceDest: "0",
    isFraud: 0,
    isFlaggedFraud: 0,
  };
}

export interface PostResult {
  status: number;
  id?: string;
  /** The Retry-After header, if any (a 503 must carry it). */
  retryAfter?: string;
  ms: number;
}

/** One POST /transaction; network errors count as status 0 (never accepted). */
export async function postTransaction(server: OfflineServer, sequence: number, timeoutMs = 15_000): Promise<PostResult> {
  const started = performance.now();
  try {
    const response = await fetch(`${server.baseUrl}/transaction`, {
      method: "POST",
      headers: server.headers({ "content-type": "application/json" }),
      body: JSON.stringify(paysimBody(sequence)),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await response.json().catch(() => ({}))) as { id?: string };
    return {
      status: response.status,
      id: response.status === 202 ? body.id : undefined,
      retryAfter: response.headers.get("retry-after") ?? undefined,
      ms: performance.now() - started,
    };
  } catch {
    return { status: 0, ms: performance.now() - started };
  }
}

/** The ids of the 202 answers among `results`. */
export const acceptedIds = (results: PostResult[]) => results.flatMap((result) => (result.id ? [result.id] : []));

/** Posts `count` transactions, `concurrency` at a time. */
export async function postMany(server: OfflineServer, count: number, concurrency = 16): Promise<PostResult[]> {
  const results: PostResult[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const sequence = next++;
        results.push(await postTransaction(server, sequence));
      }
    }),
  );
  return results;
}

export interface Load {
  /** Stops posting, waits for the requests in flight, returns every result. */
  stop(): Promise<PostResult[]>;
  results: PostResult[];
}

/** Posts continuously with `concurrency` clients (a pause of `gapMs` between one client's posts) until stopped. */
export function startLoad(server: OfflineServer, concurrency = 4, gapMs = 5): Load {
  const results: PostResult[] = [];
  let running = true;
  let sequence = 0;
  const clients = Array.from({ length: concurrency }, async () => {
    while (running) {
      results.push(await postTransaction(server, sequence++));
      if (gapMs > 0) await sleep(gapMs);
    }
  });
  return {
    results,
    async stop() {
      running = false;
      await Promise.all(clients);
      return results;
    },
  };
}
