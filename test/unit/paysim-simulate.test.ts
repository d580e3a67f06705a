import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TransactionInput } from "../../lib/transaction.js";
import { paysimBody } from "../../scripts/paysim/csv.js";
import { acceptedIdsOf, fingerprintOf, simulate } from "../../scripts/simulate/run.js";
import { Pacer, percentile, Semaphore, summarize } from "../../scripts/simulate/stats.js";
import { PAYSIM_SAMPLE } from "../support/sample.js";

const SAMPLE = PAYSIM_SAMPLE;
const FIELDS = "1,TRANSFER,1.916920493E7,C1,170136.0,0.0,C2,0.0,1.0E7,1,0".split(",");

describe("simulate pieces", () => {
  it("computes nearest-rank percentiles", () => {
    const sorted = Float64Array.from({ length: 100 }, (_, index) => index + 1);
    expect(percentile(sorted, 0.5)).toBe(50);
    expect(percentile(sorted, 0.95)).toBe(95);
    expect(percentile(sorted, 0.99)).toBe(99);
    expect(summarize([5, 1, 3])).toEqual({ count: 3, p50: 3, p95: 5, p99: 5, max: 5 });
    expect(summarize([])).toEqual({ count: 0, p50: 0, p95: 0, p99: 0, max: 0 });
  });

  it("paces to a fixed schedule of units per second", async () => {
    let now = 0;
    const sleeps: number[] = [];
    const pacer = new Pacer(
      100,
      async (ms) => {
        sleeps.push(ms);
        now += ms;
      },
      () => now,
    );
    for (let index = 0; index < 5; index++) await pacer.take(10); // 10 units = 100 ms each
    expect(sleeps).toEqual([100, 100, 100, 100]);
    const unlimited = new Pacer(undefined, async () => {
      throw new Error("must not sleep");
    });
    await unlimited.take(1_000_000);
  });

  it("lets at most `limit` holders in at once", async () => {
    const semaphore = new Semaphore(3);
    let active = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        await semaphore.acquire();
        active++;
        peak = Math.max(peak, active);
        await new Promise((resolve) => setTimeout(resolve, 2));
        active--;
        semaphore.release();
      }),
    );
    expect(peak).toBe(3);
  });

  it("sends the file's own strings, so E-notation reaches the API, and fingerprints canonical values", () => {
    const body = paysimBody(FIELDS);
    expect(body).toEqual({
      step: 1,
      type: "TRANSFER",
      amount: "1.916920493E7",
      nameOrig: "C1",
      oldbalanceOrg: "170136.0",
      newbalanceOrig: "0.0",
      nameDest: "C2",
      oldbalanceDest: "0.0",
      newbalanceDest: "1.0E7",
      isFraud: 1,
      isFlaggedFraud: 0,
    });
    expect(fingerprintOf(TransactionInput.parse(body))).toBe("1|TRANSFER|C1|19169204.93|C2");
  });

  it("reads ids from single and bulk 202 answers and refuses a count mismatch", () => {
    expect(acceptedIdsOf({ status: 202, body: '{"id":"a","status":"Accepted"}' }, 1)).toEqual(["a"]);
    expect(acceptedIdsOf({ status: 202, body: '{"status":"Accepted","count":2,"ids":["a","b"]}' }, 2)).toEqual(["a", "b"]);
    expect(acceptedIdsOf({ status: 202, body: '{"ids":["a"]}' }, 2)).toBeUndefined();
    expect(acceptedIdsOf({ status: 202, body: "not json" }, 1)).toBeUndefined();
  });
});

describe("simulate against an HTTP server", () => {
  let server: http.Server;
  let url: string;
  const received: { path: string; body: unknown }[] = [];
  let inFlight = 0;
  let peakInFlight = 0;
  let connections = 0;

  beforeAll(async () => {
    let next = 0;
    server = http.createServer((request, response) => {
      inFlight++;
      peakInFlight = Math.max(peakInFlight, inFlight);
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        const body = JSON.parse(Buffer.concat(chunks).toString()) as unknown;
        received.push({ path: request.url ?? "", body });
        setTimeout(() => {
          inFlight--;
          const items = Array.isArray(body) ? body : [body];
          // Every 7th single transaction is refused, as a broker outage would be.
          if (!Array.isArray(body) && (body as { nameOrig: string }).nameOrig.endsWith("7")) {
            response.writeHead(503, { "content-type": "application/json" }).end('{"error":"broker unavailable"}');
            return;
          }
          const ids = items.map(() => `id-${next++}`);
          response.writeHead(202, { "content-type": "application/json" });
          response.end(JSON.stringify(Array.isArray(body) ? { status: "Accepted", count: ids.length, ids } : { id: ids[0] }));
        }, 1);
      });
    });
    server.on("connection", () => connections++);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("posts one transaction a request, bounded concurrency, keep-alive, rejections counted by status", async () => {
    received.length = 0;
    peakInFlight = 0;
    connections = 0;
    const { report, acceptedRows } = await simulate({
      url,
      file: SAMPLE,
      rows: 500,
      concurrency: 4,
      bulk: 1,
      keepAccepted: true,
    });
    expect(received).toHaveLength(500);
    expect(received.every((request) => request.path === "/transaction")).toBe(true);
    expect(peakInFlight).toBeLessThanOrEqual(4);
    expect(connections).toBeLessThanOrEqual(4);
    const refused = received.filter((request) => (request.body as { nameOrig: string }).nameOrig.endsWith("7")).length;
    expect(report).toMatchObject({ sent: 500, requests: 500, accepted: 500 - refused, rejected: { "503": refused } });
    expect(acceptedRows).toHaveLength(500 - refused);
    expect(report.latencyMs.count).toBe(500);
    expect(report.latencyMs.p50).toBeGreaterThan(0);
    expect(received[0]?.body).toMatchObject({ step: 1, type: "PAYMENT", amount: "9839.64", oldbalanceOrg: "170136.0" });
  });

  it("posts arrays of --bulk rows to /transactions, the last one shorter", async () => {
    received.length = 0;
    const { report } = await simulate({ url, file: SAMPLE, rows: 1_050, concurrency: 2, bulk: 100 });
    expect(received.map((request) => request.path)).toEqual(Array(11).fill("/transactions"));
    expect(received.map((request) => (request.body as unknown[]).length)).toEqual([...Array(10).fill(100), 50]);
    expect(report).toMatchObject({ sent: 1_050, requests: 11, accepted: 1_050, rejected: {} });
  });

  it("counts a refused connection as a network rejection", async () => {
    const { report } = await simulate({ url: "http://127.0.0.1:1", file: SAMPLE, rows: 3, concurrency: 1, bulk: 1 });
    expect(report).toMatchObject({ sent: 3, accepted: 0, rejected: { network: 3 } });
  });

  it("holds to --rate", async () => {
    const started = performance.now();
    await simulate({ url, file: SAMPLE, rows: 60, concurrency: 8, bulk: 1, rate: 200 });
    // 60 transactions at 200/s are due over 295 ms; allow for slow machines only upwards.
    expect(performance.now() - started).toBeGreaterThanOrEqual(280);
  });
});
