import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { promisify } from "node:util";
import SwaggerParser from "@apidevtools/swagger-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Accepted, Problem, ReportPage } from "../../lib/docs/api-schemas.js";
import { openApiDocument } from "../../lib/docs/openapi.js";
import { SWAGGER_UI_ASSETS } from "../../lib/docs/swagger-ui.js";
import { ensureTopics } from "../../lib/kafka/admin.js";
import { SummaryResponse } from "../../lib/reports/summary.js";
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
  const transaction = {
    step: 1,
    type: "PAYMENT",
    amount: 9839.64,
    nameOrig: "C1231006815",
    oldbalanceOrg: 170136.0,
    newbalanceOrig: 160296.36,
    nameDest: "M1979787155",
    oldbalanceDest: 0,
    newbalanceDest: 0,
    isFraud: 0,
    isFlaggedFraud: 0,
  };
  const post = (body: unknown) =>
    fetch(`${server.baseUrl}/transaction`, {
      method: "POST",
      headers: server.headers({ "Content-Type": "application/json" }),
      body: JSON.stringify(body),
    });

  it("POST /transaction 202 is an Accepted with a Location", async () => {
    const response = await post(transaction);
    expect(response.status).toBe(202);
    const body = Accepted.parse(await response.json());
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
    // Locally (serverless-offline) the page pre-fills the key for "Try it out".
    expect(html).toContain(`const apiKey = {"scheme":"ApiKey","value":"${server.apiKey}"};`);
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
    } finally {
      await custom.stop();
    }
  });
});
