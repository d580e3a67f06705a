import { once } from "node:events";
import { readFileSync } from "node:fs";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { config } from "../../lib/config.js";
import { ensureTopics } from "../../lib/kafka/admin.js";
import { paysimExamples } from "../../lib/transaction.js";
import { type OfflineServer, startOffline } from "../support/offline.js";

/**
 * plugins/offline-guard against the real `serverless offline start`: bodies over a route's limit, Host
 * headers it does not answer to and pages of foreign origins. Requests go through node:http, which
 * (unlike fetch) sends any Host header and reads an answer that arrives while the body is still being sent.
 */

// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked with expect(), field by field.
type JsonBody = Record<string, any>;

const MAX_BODY_BYTES = 64 * 1024;
const MAX_BULK_BODY_BYTES = 1024 * 1024;
const MB = 1024 * 1024;
/** Given to the server: the allowlists are read from its environment. */
const ALLOWED_ORIGIN = "http://localhost:5173";
const ALLOWED_HOST = "txlog.test";

let server: OfflineServer;

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: JsonBody | string;
  /** Body bytes this side had written when the answer was complete. */
  bytesSent: number;
}

interface SendOptions {
  method?: string;
  headers?: Record<string, string>;
  /** Body size; sent in 64 KiB slices of one buffer, so no test allocates the body whole. */
  size?: number;
  /** Without Content-Length (Transfer-Encoding: chunked). */
  chunked?: boolean;
}

/** A body of `size` bytes: "[" + "{}," ... + "]" (a JSON array of {}s when the size fits the pattern). */
const SLICE = Buffer.from(`[${"{},".repeat(21_845)}`.slice(0, 64 * 1024));

/**
 * Sends a request and resolves with the answer. Stops sending once the answer is in: the guard answers 413
 * and closes the connection while a large body is still arriving, so a write failing after that is expected.
 */
function send(path: string, options: SendOptions = {}): Promise<Answer> {
  const { method = "POST", size = 0, chunked = false } = options;
  const headers: Record<string, string> = { ...options.headers };
  if (size > 0 && !chunked) headers["content-length"] = String(size);
  if (size > 0 && chunked) headers["transfer-encoding"] = "chunked";
  return new Promise((resolveAnswer, reject) => {
    let bytesSent = 0;
    let answered = false;
    const req = httpRequest(`${server.baseUrl}${path}`, { method, headers, agent: false });
    req.on("response", async (response) => {
      answered = true;
      const chunks: Buffer[] = [];
      response.on("error", () => {});
      try {
        for await (const chunk of response) chunks.push(chunk as Buffer);
      } catch {
        // A reset after the body arrived; what arrived is checked below.
      }
      const text = Buffer.concat(chunks).toString("utf8");
      let body: JsonBody | string = text;
      try {
        body = JSON.parse(text) as JsonBody;
      } catch {
        // Not JSON: the test's expectations say what it should have been.
      }
      resolveAnswer({ status: response.statusCode ?? 0, headers: response.headers, body, bytesSent });
      req.destroy();
    });
    req.on("error", (error) => {
      if (!answered) reject(error);
    });
    const closed = once(req, "close").catch(() => {});
    (async () => {
      let remaining = size;
      while (remaining > 0 && !answered && !req.destroyed) {
        const slice = remaining >= SLICE.length ? SLICE : SLICE.subarray(0, remaining);
        remaining -= slice.length;
        bytesSent += slice.length;
        if (!req.write(slice)) {
          await Promise.race([once(req, "drain").catch(() => {}), closed]);
        }
      }
      if (!req.destroyed && !answered) req.end();
    })().catch(() => {});
  });
}

const withKey = (headers: Record<string, string> = {}) => server.headers({ "content-type": "application/json", ...headers });

/** The server process's resident set (it runs the handlers too: useInProcess), in MB. */
function serverRssMb(): number {
  const status = readFileSync(`/proc/${server.pid}/status`, "utf8");
  const kb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]);
  return Math.round(kb / 1024);
}

/** Polls GET /health every 100 ms until `stop` resolves; the slowest answer and every status seen. */
async function probeHealth(stop: Promise<unknown>): Promise<{ slowestMs: number; statuses: number[] }> {
  let done = false;
  void stop.finally(() => {
    done = true;
  });
  let slowestMs = 0;
  const statuses: number[] = [];
  while (!done) {
    const started = performance.now();
    try {
      const response = await fetch(`${server.baseUrl}/health`, { signal: AbortSignal.timeout(5_000) });
      await response.body?.cancel();
      statuses.push(response.status);
    } catch {
      statuses.push(0);
    }
    slowestMs = Math.max(slowestMs, performance.now() - started);
    await sleep(100);
  }
  return { slowestMs: Math.round(slowestMs), statuses };
}

function expectTooLarge(answer: Answer, limit: number) {
  expect(answer.status).toBe(413);
  expect(answer.body).toEqual({
    status: 413,
    error: "Content Too Large",
    message: expect.stringMatching(new RegExp(`the limit is ${limit}$|the limit of ${limit} bytes$`)),
  });
}

/** A transaction the API accepts (202). */
const transaction = paysimExamples.payment;

beforeAll(async () => {
  await ensureTopics([config.TRANSACTIONS_TOPIC]);
  server = await startOffline({
    env: { CORS_ALLOWED_ORIGINS: ALLOWED_ORIGIN, HTTP_ALLOWED_HOSTS: ALLOWED_HOST, OFFLINE_KAFKA_ENABLED: "false" },
  });
  // The first answer of each function includes loading its bundle; the probes below time warm ones.
  await fetch(`${server.baseUrl}/health`).then((response) => response.body?.cancel());
});

afterAll(async () => {
  await server?.stop();
});

describe("request bodies over the limit", () => {
  it("answers 413 to 10, 30 and 100 MB bodies sent at once, with and without Content-Length; /health keeps answering within 1 s", async () => {
    const rssBefore = serverRssMb();
    const rounds: { chunked: boolean; answers: Answer[]; ms: number }[] = [];
    let health = { slowestMs: 0, statuses: [] as number[] };
    for (const chunked of [false, true]) {
      const started = performance.now();
      const sending = Promise.all([
        send("/transactions", { size: 10 * MB, chunked, headers: withKey() }),
        send("/transaction", { size: 30 * MB, chunked, headers: withKey() }),
        send("/transactions", { size: 100 * MB, chunked, headers: withKey() }),
      ]);
      const [answers, probed] = await Promise.all([sending, probeHealth(sending)]);
      rounds.push({ chunked, answers, ms: Math.round(performance.now() - started) });
      health = { slowestMs: Math.max(health.slowestMs, probed.slowestMs), statuses: [...health.statuses, ...probed.statuses] };
    }
    const rssAfter = serverRssMb();
    console.log(
      `offline-guard: server RSS ${rssBefore} MB before, ${rssAfter} MB after; slowest /health ${health.slowestMs} ms ` +
        `(${health.statuses.length} probes); ${rounds
          .map(
            ({ chunked, answers, ms }) =>
              `${chunked ? "chunked" : "Content-Length"}: ${ms} ms, sent ${answers.map((a) => a.bytesSent).join("/")} B`,
          )
          .join("; ")}`,
    );

    for (const { answers } of rounds) {
      const [tenMb, thirtyMb, hundredMb] = answers as [Answer, Answer, Answer];
      expectTooLarge(tenMb, MAX_BULK_BODY_BYTES);
      expectTooLarge(thirtyMb, MAX_BODY_BYTES);
      expectTooLarge(hundredMb, MAX_BULK_BODY_BYTES);
      // Refused while arriving: the server closed the connection long before the client sent it all.
      expect(hundredMb.bytesSent).toBeLessThan(100 * MB);
    }
    expect(health.statuses.length).toBeGreaterThan(0);
    expect(health.statuses.every((status) => status === 200)).toBe(true);
    expect(health.slowestMs).toBeLessThan(1_000);

    // Still up and serving: a normal POST afterwards is accepted.
    const response = await fetch(`${server.baseUrl}/transaction`, {
      method: "POST",
      headers: withKey(),
      body: JSON.stringify(transaction),
    });
    expect(response.status).toBe(202);
  }, 120_000);

  it("answers 413 on every route, before the handler, one byte over the route's limit; a body at the limit reaches the handler", async () => {
    const service = parseYaml(readFileSync(resolve(import.meta.dirname, "../../serverless.yml"), "utf8")) as {
      functions: Record<string, { events?: { http?: { path: string; method: string } }[] }>;
    };
    const routes = Object.values(service.functions)
      .flatMap(({ events = [] }) => events.flatMap(({ http }) => (http ? [http] : [])))
      .map(({ path, method }) => ({ method: method.toUpperCase(), path: path.replace(/\{[^}]+\}/g, "x") }));
    routes.push({ method: "POST", path: "/no-such-route" });
    expect(routes.length).toBeGreaterThan(10);

    for (const { method, path } of routes) {
      const limit = method === "POST" && path === "/transactions" ? MAX_BULK_BODY_BYTES : MAX_BODY_BYTES;
      for (const chunked of [false, true]) {
        const answer = await send(path, { method, size: limit + 1, chunked, headers: withKey() });
        expect.soft(answer.status, `${method} ${path} ${chunked ? "chunked" : "Content-Length"}`).toBe(413);
        expectTooLarge(answer, limit);
      }
    }
    // At the limit the guard lets the body through: the handler parses it ("[{},{},...": not valid JSON, 400).
    for (const [path, limit] of [
      ["/transaction", MAX_BODY_BYTES],
      ["/transactions", MAX_BULK_BODY_BYTES],
    ] as const) {
      for (const chunked of [false, true]) {
        const answer = await send(path, { size: limit, chunked, headers: withKey() });
        expect(answer.status, `${path} ${chunked ? "chunked" : "Content-Length"}`).toBe(400);
        expect((answer.body as JsonBody).message).toMatch(/not valid JSON/);
      }
    }
  }, 120_000);
});

describe("Host and Origin", () => {
  it("refuses a Host it does not answer to with 421 and the problem JSON", async () => {
    for (const host of [`evil.example:${server.httpPort}`, "rebind.attacker.test", `localhost.evil.example:${server.httpPort}`]) {
      const answer = await send("/health", { method: "GET", headers: { host } });
      expect(answer.status, host).toBe(421);
      expect(answer.body).toEqual({
        status: 421,
        error: "Misdirected Request",
        message: `this server does not answer to the host name in "Host: ${host}"; add it to HTTP_ALLOWED_HOSTS to allow it`,
      });
    }
    // Not even with the API key: the key a rebinding page would use is the public development key.
    const withApiKey = await send("/reports", {
      method: "GET",
      headers: server.headers({ host: `evil.example:${server.httpPort}` }),
    });
    expect(withApiKey.status).toBe(421);
  });

  it("serves localhost, 127.0.0.1, [::1] and the allowlisted host name", async () => {
    for (const host of [
      `localhost:${server.httpPort}`,
      `127.0.0.1:${server.httpPort}`,
      `[::1]:${server.httpPort}`,
      `${ALLOWED_HOST}:${server.httpPort}`,
    ]) {
      const answer = await send("/health", { method: "GET", headers: { host } });
      expect(answer.status, host).toBe(200);
      expect(answer.body).toMatchObject({ status: "up" });
    }
  });

  it("grants no CORS to a foreign page's preflight and refuses it with 403", async () => {
    const answer = await send("/transactions", {
      method: "OPTIONS",
      headers: {
        origin: "https://evil.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "x-api-key,content-type",
      },
    });
    expect(answer.status).toBe(403);
    expect(Object.keys(answer.headers).filter((name) => name.startsWith("access-control-"))).toEqual([]);
    expect(answer.body).toEqual({
      status: 403,
      error: "Forbidden",
      message: "requests from the web origin https://evil.example are not allowed; add it to CORS_ALLOWED_ORIGINS to allow it",
    });
    // Nor does a foreign page's request with the key get served or readable.
    const read = await send("/reports", { method: "GET", headers: server.headers({ origin: "https://evil.example" }) });
    expect(read.status).toBe(403);
    expect(read.headers["access-control-allow-origin"]).toBeUndefined();
    const sandboxed = await send("/health", { method: "GET", headers: { origin: "null" } });
    expect(sandboxed.status).toBe(403);
  });

  it("serves the API's own pages and grants the allowlisted origin, without credentials", async () => {
    const own = await send("/transaction", {
      method: "POST",
      headers: withKey({ origin: server.baseUrl, host: `127.0.0.1:${server.httpPort}` }),
      size: 0,
    });
    // Its own origin passes the guard (the handler then answers: no body is a 400).
    expect(own.status).toBe(400);
    const preflight = await send("/transactions", {
      method: "OPTIONS",
      headers: { origin: ALLOWED_ORIGIN, "access-control-request-method": "POST", "access-control-request-headers": "x-api-key" },
    });
    expect(preflight.status).toBe(200);
    expect(preflight.headers["access-control-allow-origin"]).toBe(ALLOWED_ORIGIN);
    expect(preflight.headers["access-control-allow-headers"]).toMatch(/x-api-key/);
    expect(preflight.headers["access-control-allow-credentials"]).toBeUndefined();
  });
});
