import { readFileSync } from "node:fs";
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureTopics } from "../../lib/kafka/admin.js";
import { readPaysimCsv } from "../../scripts/paysim/csv.js";
import { SeededRandom } from "../../scripts/paysim/random.js";
import { testKafka, uniqueName } from "../support/kafka.js";
import { type OfflineServer, startOffline } from "../support/offline.js";
import { PAYSIM_SAMPLE } from "../support/sample.js";

/**
 * Fuzz: 10,000+ generated and mutated requests (bodies, headers, content types, query strings)
 * against the real `serverless offline start` with the real broker and database up. No answer may
 * be a 5xx (a 503 would mean the broker looked down, and it is up), no request may hang, the server
 * must stay up and its memory must stay flat. Cases with a definite answer (no API key -> 403,
 * truncated JSON -> 400, oversized -> 413, ...) are asserted exactly.
 *
 * Reproduce a failure with the seed it printed: FUZZ_SEED=<seed> npx vitest run test/integration/fuzz.test.ts
 */

const SEED = Number(process.env.FUZZ_SEED ?? 20_261_124);
const TOTAL = Number(process.env.FUZZ_TOTAL ?? 10_000);
const WARM_UP = 2_000;
const CONCURRENCY = 16;
const REQUEST_TIMEOUT_MS = 10_000;
/** RSS may grow at most this much between the end of the warm-up and the end (generous: GC timing, JIT, buffers). */
const MAX_RSS_GROWTH_BYTES = 100 * 1024 * 1024;
const HEAP_CAP_MB = Number(process.env.FUZZ_HEAP_CAP_MB ?? 256);
const SAMPLE_CSV = PAYSIM_SAMPLE;
const MAX_BODY_BYTES = 64 * 1024;
const MAX_BULK_BODY_BYTES = 1024 * 1024;

const topic = uniqueName("test.fuzz");
let server: OfflineServer;
let agent: http.Agent;
/** Real PaySim rows from the sample, as a JSON client would send them. */
const rows: Record<string, unknown>[] = [];

interface FuzzCase {
  category: string;
  method: string;
  path: string;
  headers: Record<string, string | string[]>;
  body?: Buffer;
  /** The exact status this case must get; otherwise any status below 500. */
  expected?: number[];
}

interface Answer {
  status: number;
  body: string;
}

function send(request: FuzzCase): Promise<Answer> {
  const url = new URL(request.path, server.baseUrl);
  return new Promise((resolve, reject) => {
    const outgoing = http.request(
      url,
      {
        method: request.method,
        agent,
        headers: { ...request.headers, ...(request.body ? { "content-length": String(request.body.length) } : {}) },
        timeout: REQUEST_TIMEOUT_MS,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        response.on("error", reject);
      },
    );
    outgoing.on("timeout", () => outgoing.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    outgoing.on("error", reject);
    outgoing.end(request.body);
  });
}

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (!kb) throw new Error(`no VmRSS for ${pid}`);
  return Number(kb) * 1024;
}

/** A PaySim CSV row as API JSON: money sometimes as the CSV's string ("1.916920493E7"), sometimes as a number. */
function toApiBody(fields: string[], random: SeededRandom): Record<string, unknown> {
  const [step, type, amount, nameOrig, oldOrg, newOrig, nameDest, oldDest, newDest, isFraud, isFlagged] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const money = (text: string) => (random.chance(0.5) ? text : Number(text));
  return {
    step: Number(step),
    type,
    amount: money(amount),
    nameOrig,
    oldbalanceOrg: money(oldOrg),
    newbalanceOrig: money(newOrig),
    nameDest,
    oldbalanceDest: money(oldDest),
    newbalanceDest: money(newDest),
    isFraud: Number(isFraud),
    isFlaggedFraud: Number(isFlagged),
  };
}

/** The generator: every draw comes from `random`, so a seed names a sequence of requests exactly. */
class Fuzzer {
  constructor(private readonly random: SeededRandom) {}

  pick<T>(items: readonly T[]): T {
    return items[this.random.int(0, items.length - 1)] as T;
  }

  row(): Record<string, unknown> {
    return structuredClone(this.pick(rows));
  }

  unicodeString(): string {
    return this.pick([
      "C😀123",
      "C\u202e321",
      "C\u0000",
      "C\u200b1",
      "\ud800",
      "Ｃ１２３",
      "🏦".repeat(this.random.int(1, 200)),
      "é".repeat(this.random.int(1, 100)),
      "\u0085\u2028\u2029",
      "C".repeat(this.random.int(60, 70)),
      "",
    ]);
  }

  wrongValue(): unknown {
    return this.pick<() => unknown>([
      () => null,
      () => true,
      () => false,
      () => [],
      () => ({}),
      () => [1, 2, 3],
      () => ({ nested: { value: 1 } }),
      () => this.unicodeString(),
      () => "ten",
      () => "",
      () => " 12 ",
      () => "0x1F",
      () => "1e999",
      () => "1E-999",
      () => "NaN",
      () => "Infinity",
      () => -1,
      () => -0,
      () => 1e308,
      () => Number.MAX_SAFE_INTEGER + 2,
      () => 0.1 + 0.2,
      () => "9".repeat(this.random.int(17, 5_000)),
      () => `0.${"1".repeat(this.random.int(3, 500))}`,
      () => this.random.next() * 1e20,
      () => "12345678901234567.89",
      () => "1.916920493E7",
    ])();
  }

  deep(depth: number): string {
    return this.random.chance(0.5) ? `${"[".repeat(depth)}${"]".repeat(depth)}` : `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
  }

  idempotencyKey(): { value: string | string[]; valid: boolean } {
    return this.pick<() => { value: string | string[]; valid: boolean }>([
      () => ({ value: randomUuidFrom(this.random), valid: true }),
      () => ({ value: `"${randomUuidFrom(this.random)}"`, valid: true }),
      () => ({ value: "", valid: false }),
      () => ({ value: "k".repeat(this.random.int(256, 4_000)), valid: false }),
      () => ({ value: `"${"k".repeat(10)}`, valid: false }),
      () => ({ value: '"a\\b"', valid: false }),
      () => ({ value: "clé-ñ", valid: false }),
      () => ({ value: [randomUuidFrom(this.random), randomUuidFrom(this.random)], valid: false }),
    ])();
  }

  json(value: unknown): Buffer {
    return Buffer.from(JSON.stringify(value));
  }

  next(): FuzzCase {
    const auth = { "x-api-key": server.apiKey };
    const json = { "content-type": "application/json", ...auth };
    const single = this.random.chance(0.6);
    const path = single ? "/transaction" : "/transactions";
    const valid = (): unknown => (single ? this.row() : Array.from({ length: this.random.int(1, 5) }, () => this.row()));
    const roll = this.random.int(0, 99);

    if (roll < 8) return { category: "valid", method: "POST", path, headers: json, body: this.json(valid()), expected: [202] };
    if (roll < 12) {
      const key = this.idempotencyKey();
      return {
        category: key.valid ? "idempotency-key" : "bad-idempotency-key",
        method: "POST",
        path,
        headers: { ...json, "idempotency-key": key.value },
        body: this.json(valid()),
        expected: key.valid ? [202] : [400],
      };
    }
    if (roll < 16) {
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (this.random.chance(0.5))
        headers["x-api-key"] = this.pick(["", "wrong", `${server.apiKey}x`, server.apiKey.toUpperCase()]);
      const [method, target] = this.pick([
        ["POST", path],
        ["GET", "/reports"],
        ["GET", "/reports/summary"],
        ["GET", `/transactions/${randomUuidFrom(this.random)}`],
      ] as const);
      return {
        category: "no-or-wrong-api-key",
        method,
        path: target,
        headers,
        ...(method === "POST" ? { body: this.json(valid()) } : {}),
        expected: [403],
      };
    }
    if (roll < 36) {
      // Wrong types and odd values in one or more fields of a real row.
      const body = valid();
      const items = (Array.isArray(body) ? body : [body]) as Record<string, unknown>[];
      for (let changes = this.random.int(1, 3); changes > 0; changes--) {
        const item = this.pick(items);
        const field = this.pick(Object.keys(item));
        const action = this.random.int(0, 9);
        if (action === 0) delete item[field];
        else if (action === 1) item[this.pick(["extra", "__proto__", "constructor", field.toUpperCase()])] = this.wrongValue();
        else item[field] = this.wrongValue();
      }
      return { category: "wrong-types", method: "POST", path, headers: json, body: this.json(body) };
    }
    if (roll < 42) {
      const depth = this.random.int(100, 20_000);
      const text = this.random.chance(0.5)
        ? this.deep(depth)
        : JSON.stringify(this.row()).replace(/"step":\d+/, `"step":${this.deep(depth)}`);
      const tooLarge = Buffer.byteLength(text) > (single ? MAX_BODY_BYTES : MAX_BULK_BODY_BYTES);
      return {
        category: "deep-nesting",
        method: "POST",
        path,
        headers: json,
        body: Buffer.from(text),
        ...(tooLarge ? { expected: [413] } : {}),
      };
    }
    if (roll < 50) {
      const body = valid();
      const item = (Array.isArray(body) ? body[0] : body) as Record<string, unknown>;
      item[this.pick(["nameOrig", "nameDest", "type"])] = this.unicodeString();
      if (this.random.chance(0.3)) item[this.unicodeString() || "k"] = 1;
      return { category: "unicode", method: "POST", path, headers: json, body: this.json(body) };
    }
    if (roll < 58) {
      const text = JSON.stringify(valid());
      const cut = this.random.int(0, text.length - 2);
      return {
        category: "truncated-json",
        method: "POST",
        path,
        headers: json,
        body: Buffer.from(text.slice(0, cut)),
        expected: [400],
      };
    }
    if (roll < 62) {
      const bytes = Buffer.alloc(this.random.int(1, 2_000));
      for (let index = 0; index < bytes.length; index++) bytes[index] = this.random.int(0, 255);
      return { category: "random-bytes", method: "POST", path, headers: json, body: bytes };
    }
    if (roll < 70) {
      const contentType = this.pick([
        "text/plain",
        "text/csv",
        "application/xml",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "application/octet-stream",
        "image/png",
        "application",
        "json",
        "*/*",
        "application/json-patch",
        "",
      ]);
      const headers: Record<string, string> = { ...auth };
      if (!contentType) {
        // serverless-offline adds Content-Type: application/json to a request without one, so it may be accepted.
        return { category: "no-content-type", method: "POST", path, headers, body: this.json(valid()), expected: [202, 415] };
      }
      headers["content-type"] = contentType;
      // hapi answers a Content-Type it cannot parse ("json", "*/*") with its own 400 before any handler.
      return {
        category: "wrong-content-type",
        method: "POST",
        path,
        headers: { ...headers, "content-type": contentType },
        body: this.json(valid()),
        expected: [415, 400],
      };
    }
    if (roll < 74) {
      const contentType = this.pick([
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/vnd.api+json",
        "application/json;charset=latin1",
      ]);
      return {
        category: "json-content-type-variants",
        method: "POST",
        path,
        headers: { ...auth, "content-type": contentType },
        body: this.json(valid()),
      };
    }
    if (roll < 78) {
      const limit = single ? MAX_BODY_BYTES : MAX_BULK_BODY_BYTES;
      const size = this.random.chance(0.05)
        ? this.random.int(2 * 1024 * 1024, 3 * 1024 * 1024)
        : limit + this.random.int(1, 4_096);
      const item = this.row();
      item.nameDest = "M".repeat(size);
      return {
        category: "oversized",
        method: "POST",
        path,
        headers: json,
        body: this.json(single ? item : [item]),
        expected: [413],
      };
    }
    if (roll < 84) {
      const items = Array.from({ length: this.pick([0, 1, 1_001, 2_000]) }, () => this.row());
      if (items.length > 0 && this.random.chance(0.5))
        items[this.random.int(0, items.length - 1)] = this.wrongValue() as Record<string, unknown>;
      const body = this.json(this.random.chance(0.1) ? { items } : items);
      const tooLarge = body.length > MAX_BULK_BODY_BYTES;
      return {
        category: "bulk-shapes",
        method: "POST",
        path: "/transactions",
        headers: json,
        body,
        ...(tooLarge ? { expected: [413] } : items.length !== 1 ? { expected: [422] } : {}),
      };
    }
    if (roll < 94) {
      const params = Array.from({ length: this.random.int(0, 5) }, () => {
        const name = this.pick([
          "limit",
          "cursor",
          "status",
          "type",
          "isFraud",
          "nameOrig",
          "stepFrom",
          "stepTo",
          "bogus",
          "LIMIT",
          "limit[]",
        ]);
        const value = this.pick([
          "-1",
          "0",
          "1",
          "1000",
          "1001",
          "1e9",
          "99999999999999999999",
          "Completed",
          "TRANSFER",
          "true",
          "yes",
          "C1231006815",
          Buffer.from(randomUuidFrom(this.random)).toString("base64url"),
          "%00",
          "%FF%FE",
          "%E2%80%AE",
          "",
          "a".repeat(this.random.int(1, 3_000)),
        ]);
        return `${encodeURIComponent(name)}=${value}`;
      });
      return {
        category: "query",
        method: "GET",
        path: `${this.pick(["/reports", "/reports/summary"])}?${params.join("&")}`,
        headers: auth,
      };
    }
    if (roll < 97) {
      const id = this.pick([
        "12345",
        "not-a-uuid",
        "%00",
        "%E2%80%AE",
        "0".repeat(500),
        randomUuidFrom(this.random),
        "..%2F..%2Fetc%2Fpasswd",
      ]);
      return { category: "transaction-id", method: "GET", path: `/transactions/${id}`, headers: auth };
    }
    const [method, target] = this.pick([
      ["PUT", "/transaction"],
      ["DELETE", "/transactions"],
      ["PATCH", "/reports"],
      ["POST", "/reports"],
      ["GET", "/transaction"],
      ["POST", "/health"],
    ] as const);
    return { category: "wrong-method", method, path: target, headers: json, body: this.json(this.row()) };
  }
}

function randomUuidFrom(random: SeededRandom): string {
  const hex = Array.from({ length: 32 }, () => random.int(0, 15).toString(16)).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`;
}

beforeAll(async () => {
  const random = new SeededRandom(SEED);
  for await (const row of readPaysimCsv(SAMPLE_CSV, { limit: 500 })) rows.push(toApiBody(row.fields, random));
  await ensureTopics([topic]);
  server = await startOffline({
    env: {
      TRANSACTIONS_TOPIC: topic,
      OFFLINE_KAFKA_ENABLED: "false",
      LOG_LEVEL: "error",
      // A capped old space makes V8 collect the multi-MB oversized bodies before RSS balloons (uncapped, RSS saws
      // between ~400 and ~800 MiB and the before/after difference is GC timing); a leak then ends in an OOM crash,
      // which the "still up" assertion catches.
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --max-old-space-size=${HEAP_CAP_MB}`.trim(),
    },
  });
  agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
});

afterAll(async () => {
  agent?.destroy();
  await server?.stop();
  const admin = testKafka().admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [topic] }).catch(() => {});
  await admin.disconnect();
});

describe(`fuzz (seed ${SEED})`, () => {
  it(`answers ${TOTAL} generated and mutated requests without a 5xx or a hang, stays up, memory flat`, async () => {
    const fuzzer = new Fuzzer(new SeededRandom(SEED));
    const cases = Array.from({ length: TOTAL }, () => fuzzer.next());
    const failures: string[] = [];
    const byCategory = new Map<string, Map<number, number>>();
    let next = 0;
    let rssAfterWarmUp = 0;
    const rssSamples: string[] = [];

    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < cases.length) {
          const index = next++;
          if (index === WARM_UP) rssAfterWarmUp = rssBytes(server.pid);
          if (index % 2_000 === 0) rssSamples.push(`${index}: ${(rssBytes(server.pid) / 2 ** 20).toFixed(0)}`);
          const request = cases[index] as FuzzCase;
          let answer: Answer;
          try {
            answer = await send(request);
          } catch (error) {
            failures.push(`#${index} ${request.category} ${request.method} ${request.path}: ${(error as Error).message}`);
            continue;
          }
          const counts = byCategory.get(request.category) ?? new Map<number, number>();
          counts.set(answer.status, (counts.get(answer.status) ?? 0) + 1);
          byCategory.set(request.category, counts);
          const wrong = answer.status >= 500 || (request.expected !== undefined && !request.expected.includes(answer.status));
          if (wrong && failures.length < 50) {
            failures.push(
              `#${index} ${request.category} ${request.method} ${request.path.slice(0, 80)} -> ${answer.status}` +
                `${request.expected ? ` (expected ${request.expected.join("/")})` : ""}: ${answer.body.slice(0, 200)}`,
            );
          }
        }
      }),
    );
    const rssAtEnd = rssBytes(server.pid);

    const table = [...byCategory.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(
        ([category, counts]) =>
          `  ${category.padEnd(28)} ${[...counts.entries()].map(([status, count]) => `${status}: ${count}`).join(", ")}`,
      );
    console.log(
      `fuzz seed ${SEED}: ${TOTAL} requests\n${table.join("\n")}\n  server RSS after warm-up ${(rssAfterWarmUp / 2 ** 20).toFixed(0)} MiB, at end ${(rssAtEnd / 2 ** 20).toFixed(0)} MiB (MiB by request: ${rssSamples.join(", ")})`,
    );

    expect(failures, `seed ${SEED}`).toEqual([]);
    expect([...byCategory.values()].reduce((sum, counts) => sum + [...counts.values()].reduce((a, b) => a + b, 0), 0)).toBe(
      TOTAL,
    );
    // Still up and still healthy: the real broker and database answer.
    expect(() => process.kill(server.pid, 0)).not.toThrow();
    const health = await fetch(`${server.baseUrl}/health`);
    expect(health.status).toBe(200);
    expect(rssAfterWarmUp).toBeGreaterThan(0);
    expect(rssAtEnd - rssAfterWarmUp).toBeLessThan(MAX_RSS_GROWTH_BYTES);
  }, 240_000);
});
