import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { dirname, resolve } from "node:path";
import { promisify } from "node:util";
import SwaggerParser from "@apidevtools/swagger-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openApiDocument } from "../../lib/docs/openapi.js";
import { SWAGGER_UI_ASSETS } from "../../lib/docs/swagger-ui.js";
import { Problem } from "../../lib/http/problem.js";
import { AcceptedResponse } from "../../lib/ingest.js";
import { ensureTopics } from "../../lib/kafka/admin.js";
import { ReportPage, SummaryResponse } from "../../lib/reports/schemas.js";
import { paysimExamples } from "../../lib/transaction.js";
import { uniqueName } from "../support/kafka.js";
import { type OfflineServer, startOffline } from "../support/offline.js";

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "../..");

/** The (METHOD, path) of every http event, as the Serverless Framework itself resolves serverless.yml. */
async function serverlessHttpRoutes(): Promise<string[]> {
  const { stdout } = await run("npx", ["sls", "print", "--format", "json"], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
  const service = JSON.parse(stdout.slice(stdout.indexOf("{"))) as {
    functions: Record<string, { events?: { http?: { path: string; method: string } }[] }>;
  };
  return Object.values(service.functions).flatMap((fn) =>
    (fn.events ?? []).flatMap((event) =>
      event.http ? [`${event.http.method.toUpperCase()} /${event.http.path.replace(/^\//, "")}`] : [],
    ),
  );
}

function documentedRoutes(): string[] {
  const document = openApiDocument();
  return Object.entries(document.paths ?? {}).flatMap(([path, item]) =>
    ["get", "put", "post", "delete", "patch", "head", "options"]
      .filter((method) => (item as Record<string, unknown>)[method] !== undefined)
      .map((method) => `${method.toUpperCase()} ${path}`),
  );
}

let server: OfflineServer;
const topic = uniqueName("test.docs.transactions");

beforeAll(async () => {
  await ensureTopics([topic]);
  server = await startOffline({ env: { TRANSACTIONS_TOPIC: topic } });
});

afterAll(async () => {
  await server?.stop();
});

describe("GET /openapi.json", () => {
  it("serves the generated document, valid OpenAPI 3.1, with servers pointing at this server", async () => {
    const response = await fetch(`${server.baseUrl}/openapi.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    const served = (await response.json()) as ReturnType<typeof openApiDocument>;
    expect(served).toEqual(openApiDocument("/"));
    await SwaggerParser.validate(served as never);
  });

  it("documents exactly the HTTP routes of serverless.yml (Swagger UI's asset route aside)", async () => {
    const routes = (await serverlessHttpRoutes()).filter((route) => route !== "GET /docs/{file+}");
    expect(routes.length).toBeGreaterThanOrEqual(7);
    expect(new Set(documentedRoutes())).toEqual(new Set(routes));
  });
});

describe("the document matches what the handlers answer", () => {
  const transaction = paysimExamples.payment;
  const post = (body: unknown) =>
    fetch(`${server.baseUrl}/transaction`, {
      method: "POST",
      headers: server.headers({ "Content-Type": "application/json" }),
      body: JSON.stringify(body),
    });

  it("POST /transaction 202 is an Accepted with a Location", async () => {
    const response = await post(transaction);
    expect(response.status).toBe(202);
    const body = AcceptedResponse.parse(await response.json());
    expect(response.headers.get("location")).toBe(`/transactions/${body.id}`);
  });

  it("POST /transaction 422 is a Problem naming the field", async () => {
    const response = await post({ ...transaction, amount: "-5" });
    expect(response.status).toBe(422);
    expect(Problem.parse(await response.json()).issues).toEqual([{ field: "amount", reason: "must not be negative" }]);
  });

  it("GET /transactions/{id} 400 and GET /reports 200 have their documented shapes", async () => {
    const bad = await fetch(`${server.baseUrl}/transactions/not-a-uuid`, { headers: server.headers() });
    expect(bad.status).toBe(400);
    Problem.parse(await bad.json());
    const reports = await fetch(`${server.baseUrl}/reports?limit=5`, { headers: server.headers() });
    expect(reports.status).toBe(200);
    ReportPage.parse(await reports.json());
  });

  it("GET /reports/summary 200 is a Summary", async () => {
    const response = await fetch(`${server.baseUrl}/reports/summary?stepFrom=1&stepTo=1`, { headers: server.headers() });
    expect(response.status).toBe(200);
    SummaryResponse.parse(await response.json());
  });
});

describe("GET /docs", () => {
  it("serves Swagger UI's page, loading only URLs of this server", async () => {
    const response = await fetch(`${server.baseUrl}/docs`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toContain('<script src="/docs/swagger-ui-bundle.js">');
    expect(html).toContain('"url":"/openapi.json"');
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    // No credentials in a public page, not even locally: the user enters the key under Authorize.
    expect(html).not.toMatch(/preauthorize|apiKey/i);
    // With a trailing slash too: the URLs are absolute paths, not relative to the page.
    expect(await (await fetch(`${server.baseUrl}/docs/`)).text()).toBe(html);
  });

  it.each(Object.entries(SWAGGER_UI_ASSETS))("serves %s byte for byte from swagger-ui-dist", async (name, contentType) => {
    const response = await fetch(`${server.baseUrl}/docs/${name}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe(contentType);
    const served = Buffer.from(await response.arrayBuffer());
    expect(served.equals(readFileSync(resolve(ROOT, "node_modules/swagger-ui-dist", name)))).toBe(true);
  });

  it.each(["index.html", "package.json", "..%2Fpackage.json", "swagger-ui.js.map", "nested/swagger-ui.css"])(
    "answers 404 for /docs/%s, which is not an allow-listed asset",
    async (name) => {
      const response = await fetch(`${server.baseUrl}/docs/${name}`);
      expect(response.status).toBe(404);
    },
  );
});

describe("the API key", () => {
  it.each([
    ["POST", "/transaction"],
    ["POST", "/transactions"],
    ["GET", "/transactions/0197a5c2-6f3e-7b21-9c4d-5e8f1a2b3c4d"],
    ["GET", "/reports"],
    ["GET", "/reports/summary"],
  ])("%s %s answers 403 without x-api-key and with a wrong one", async (method, path) => {
    const init = (headers: Record<string, string>): RequestInit => ({
      method,
      headers: { "content-type": "application/json", ...headers },
      ...(method === "POST" ? { body: "{}" } : {}),
    });
    for (const headers of [{}, { "x-api-key": "not-the-key-but-long-enough" }] as Record<string, string>[]) {
      const response = await fetch(`${server.baseUrl}${path}`, init(headers));
      expect(response.status).toBe(403);
      expect(await response.json()).toEqual({ message: "Forbidden" });
    }
    const keyed = await fetch(`${server.baseUrl}${path}`, init({ "x-api-key": server.apiKey }));
    expect(keyed.status).not.toBe(403);
  });

  it.each(["/openapi.json", "/docs", "/docs/swagger-ui.css", "/health"])("GET %s needs no key", async (path) => {
    const response = await fetch(`${server.baseUrl}${path}`);
    expect(response.status).toBe(200);
  });

  const publicPaths = [
    "/docs",
    "/docs/",
    "/openapi.json",
    "/health",
    ...Object.keys(SWAGGER_UI_ASSETS).map((name) => `/docs/${name}`),
  ];

  it("is never in a public page: GET /docs, its assets, /openapi.json, /health", async () => {
    for (const path of publicPaths) {
      const response = await fetch(`${server.baseUrl}${path}`);
      expect(response.status).toBe(200);
      const served = Buffer.from(await response.arrayBuffer()).toString("latin1");
      expect(served.includes(server.apiKey), `${path} carries the API key`).toBe(false);
      expect(JSON.stringify(Object.fromEntries(response.headers))).not.toContain(server.apiKey);
    }
  });

  it("comes from API_KEY in the environment", async () => {
    const custom = await startOffline({
      env: { TRANSACTIONS_TOPIC: topic, API_KEY: "a-key-from-the-environment-42", OFFLINE_KAFKA_ENABLED: "false" },
    });
    try {
      const withDefault = await fetch(`${custom.baseUrl}/reports?limit=1`, { headers: { "x-api-key": server.apiKey } });
      expect(withDefault.status).toBe(403);
      const withCustom = await fetch(`${custom.baseUrl}/reports?limit=1`, {
        headers: { "x-api-key": "a-key-from-the-environment-42" },
      });
      expect(withCustom.status).toBe(200);
      for (const path of publicPaths) {
        const served = await (await fetch(`${custom.baseUrl}${path}`)).text();
        expect(served.includes("a-key-from-the-environment-42"), `${path} carries the API key`).toBe(false);
      }
    } finally {
      await custom.stop();
    }
  });
});

/** The TCP addresses process `pid` listens on ("127.0.0.1:3000", "[::]:3002"), from /proc (Linux). */
function listeningAddresses(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode) inodes.add(inode);
    } catch {
      // Closed meanwhile.
    }
  }
  const addresses: string[] = [];
  for (const [file, v6] of [
    ["/proc/net/tcp", false],
    ["/proc/net/tcp6", true],
  ] as const) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, "utf8").split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      const [local, state, inode] = [fields[1], fields[3], fields[9]];
      if (!local || state !== "0A" || !inode || !inodes.has(inode)) continue; // 0A: LISTEN
      const [hexAddress = "", hexPort = ""] = local.split(":");
      const port = Number.parseInt(hexPort, 16);
      const address = v6
        ? hexAddress === "0".repeat(32)
          ? "[::]"
          : `[${hexAddress}]`
        : (hexAddress.match(/../g) ?? [])
            .reverse()
            .map((byte) => Number.parseInt(byte, 16))
            .join(".");
      addresses.push(`${address}:${port}`);
    }
  }
  return addresses.sort();
}

describe("what the local server exposes", () => {
  it("listens on 127.0.0.1 at the HTTP port and on no other TCP port (no Lambda invoke port)", () => {
    expect(listeningAddresses(server.pid)).toEqual([`127.0.0.1:${server.httpPort}`]);
  });

  it("serves its Lambda invoke API (any function, no API key) only on a Unix socket in a 0700 directory", async () => {
    expect(statSync(server.lambdaSocket).isSocket()).toBe(true);
    expect(statSync(dirname(server.lambdaSocket)).mode & 0o777).toBe(0o700);
    // The residual: this user (and root) can still invoke any function through it, without the key.
    const status = await new Promise<number>((resolveStatus, reject) => {
      const request = httpRequest(
        { socketPath: server.lambdaSocket, method: "POST", path: "/2015-03-31/functions/txlog-local-health/invocations" },
        (response) => {
          response.resume();
          resolveStatus(response.statusCode ?? 0);
        },
      );
      request.on("error", reject);
      request.end("{}");
    });
    expect(status).toBe(200);
  });
});
