import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parseDocument } from "yaml";
import { loadInfraSettings } from "../../scripts/infra/index.js";

/**
 * docker-compose.yml, read as Compose reads it (no Docker engine here): YAML with merge keys, then the
 * attributes this project relies on for security. Checked once by hand against compose-spec's JSON
 * schema (compose-spec/compose-spec, schema/compose-spec.json): valid.
 */
const COMPOSE_FILE = resolve(import.meta.dirname, "../../docker-compose.yml");

interface Service {
  ports?: unknown[];
  environment?: Record<string, string>;
  command?: string[];
}

interface ComposeFile {
  services: Record<string, Service>;
  [key: string]: unknown;
}

function loadCompose(): ComposeFile {
  const document = parseDocument(readFileSync(COMPOSE_FILE, "utf8"), { merge: true });
  expect(document.errors).toEqual([]);
  expect(document.warnings).toEqual([]);
  return document.toJS() as ComposeFile;
}

/** Compose's interpolation of `${VAR}`, `${VAR:-default}` and `$$`: all this file uses. */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (match, name?: string, fallback?: string) => {
    if (match === "$$") return "$";
    const set = env[name as string];
    return set !== undefined && set !== "" ? set : (fallback ?? "");
  });
}

const compose = loadCompose();
const service = (name: string): Service => {
  const found = compose.services[name];
  if (!found) throw new Error(`no service ${name}`);
  return found;
};

describe("docker-compose.yml", () => {
  it("has only Compose specification top-level attributes (x- extensions aside)", () => {
    const allowed = ["version", "name", "include", "services", "models", "networks", "volumes", "secrets", "configs"];
    for (const key of Object.keys(compose)) expect(allowed.includes(key) || key.startsWith("x-"), key).toBe(true);
    expect(Object.keys(compose.services).sort()).toEqual(["api", "kafka", "postgres", "worker", "zookeeper"]);
  });

  it("publishes Kafka, PostgreSQL and the API on 127.0.0.1 only, and nothing else", () => {
    const published = Object.entries(compose.services).flatMap(([name, { ports = [] }]) =>
      ports.map((port) => `${name} ${String(port)}`),
    );
    expect(published.sort()).toEqual(["api 127.0.0.1:3000:3000", "kafka 127.0.0.1:9092:9092", "postgres 127.0.0.1:5432:5432"]);
  });

  it("never publishes serverless-offline's Lambda invoke server, and serves the API on every interface inside its container only", () => {
    const api = service("api");
    expect(api.environment?.HTTP_HOST).toBe("0.0.0.0");
    expect(api.environment?.LAMBDA_PORT).toBeUndefined();
    expect(api.command).toEqual(["npm", "start"]);
    const targets = (api.ports ?? []).map((port) => String(port).split(":").at(-1));
    expect(targets).toEqual(["3000"]);
  });

  it("gives PostgreSQL a password (no trust), which the services' DATABASE_URL carries", () => {
    const postgres = service("postgres").environment ?? {};
    expect(postgres.POSTGRES_HOST_AUTH_METHOD).toBeUndefined();
    const localDefault = loadInfraSettings({}).POSTGRES_PASSWORD;
    for (const env of [{}, { POSTGRES_PASSWORD: "a-deployers-own-secret" }] as Record<string, string>[]) {
      const password = interpolate(postgres.POSTGRES_PASSWORD ?? "", env);
      expect(password).toBe(env.POSTGRES_PASSWORD ?? localDefault);
      for (const name of ["api", "worker"]) {
        const url = new URL(interpolate(service(name).environment?.DATABASE_URL ?? "", env));
        expect({ name, user: url.username, password: url.password, host: url.host }).toEqual({
          name,
          user: "postgres",
          password,
          host: "postgres:5432",
        });
      }
    }
  });
});
