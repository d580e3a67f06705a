import { afterEach, describe, expect, it, vi } from "vitest";
import { ConfigError, loadConfig, requiredApiKey } from "../../lib/config.js";
import { defaultReplication } from "../../lib/kafka/admin.js";
import { kafkaSecurity } from "../../lib/kafka/client.js";
import { clusterLayout } from "../../scripts/infra/index.js";

const PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:AmazonMSK_txlog-prod-Ab12Cd";
const scram = { KAFKA_SSL: "true", KAFKA_SASL_MECHANISM: "scram-sha-512", KAFKA_SASL_USERNAME: "app", KAFKA_SASL_PASSWORD: "pw" };

describe("Kafka security from configuration", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it("is plain PLAINTEXT by default (the local broker)", () => {
    expect(kafkaSecurity(loadConfig({}))).toEqual({});
  });

  it("SCRAM over TLS, with a private CA when one is given", () => {
    expect(kafkaSecurity(loadConfig(scram))).toEqual({
      ssl: true,
      sasl: { mechanism: "scram-sha-512", username: "app", password: "pw" },
    });
    expect(kafkaSecurity(loadConfig({ ...scram, KAFKA_SASL_MECHANISM: "scram-sha-256", KAFKA_SSL_CA: PEM }))).toEqual({
      ssl: { ca: [PEM] },
      sasl: { mechanism: "scram-sha-256", username: "app", password: "pw" },
    });
  });

  it.each([
    [
      { KAFKA_SASL_MECHANISM: "scram-sha-512", KAFKA_SASL_USERNAME: "a", KAFKA_SASL_PASSWORD: "b" },
      "KAFKA_SASL_MECHANISM: scram-sha-512 needs KAFKA_SSL=true",
    ],
    [
      { KAFKA_SSL: "true", KAFKA_SASL_MECHANISM: "scram-sha-512" },
      "KAFKA_SASL_USERNAME: required with KAFKA_SASL_MECHANISM=scram-sha-512",
    ],
    [{ KAFKA_SSL: "true", KAFKA_SASL_MECHANISM: "aws-iam" }, "AWS_REGION: required with KAFKA_SASL_MECHANISM=aws-iam"],
    [{ KAFKA_SSL: "true", KAFKA_SASL_MECHANISM: "kerberos" }, "KAFKA_SASL_MECHANISM"],
    [{ KAFKA_SSL_CA: PEM }, "KAFKA_SSL_CA: only used with KAFKA_SSL=true"],
    [{ KAFKA_SSL: "true", KAFKA_SSL_CA: "not a certificate" }, "KAFKA_SSL_CA: expected PEM certificates"],
    [{ KAFKA_REPLICATION_FACTOR: "2", KAFKA_MIN_INSYNC_REPLICAS: "3" }, "KAFKA_MIN_INSYNC_REPLICAS: must not exceed"],
    [{ TRANSACTIONS_TOPIC: "tx", DEAD_LETTER_TOPIC: "tx" }, "DEAD_LETTER_TOPIC: must not be the transactions topic"],
    [
      { STAGE: "prod", DATABASE_URL: "postgres://db.example:5432/txlog" },
      "DATABASE_URL: stage prod needs TLS to the database: add sslmode=verify-full (or require) to the URL",
    ],
    [{ STAGE: "prod", DATABASE_URL: "postgres://db.example:5432/txlog?sslmode=prefer" }, "DATABASE_URL: stage prod needs TLS"],
    [
      { STAGE: "prod", DATABASE_URL: "postgres://db.example/txlog?sslmode=require", API_KEY: "txlog-local-development-key" },
      "API_KEY: the public development key serves stage local only, not prod: set your own",
    ],
    [{ ...scram, KAFKA_SASL_SECRET_ARN: SECRET }, "KAFKA_SASL_SECRET_ARN: the SCRAM user comes from the secret"],
    [{ KAFKA_SASL_SECRET_ARN: SECRET }, "KAFKA_SASL_USERNAME: KAFKA_SASL_USERNAME/PASSWORD/SECRET_ARN are for scram-sha-256/512"],
    [{ ...scram, KAFKA_SASL_SECRET_ARN: "AmazonMSK_txlog" }, "KAFKA_SASL_SECRET_ARN: expected a Secrets Manager secret ARN"],
    [{ DATABASE_SECRET_ARN: SECRET, DATABASE_PASSWORD: "pw" }, "DATABASE_SECRET_ARN: the database user comes from the secret"],
    [
      { DATABASE_SECRET_ARN: SECRET, DATABASE_URL: "postgres://app:pw@db.example/txlog" },
      "DATABASE_SECRET_ARN: the database user comes from the secret",
    ],
  ])("refuses %j naming the setting", (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it("treats empty values as unset (serverless.yml passes '' for what a stage does not use)", () => {
    const config = loadConfig({ KAFKA_SASL_USERNAME: "", KAFKA_SASL_PASSWORD: "", KAFKA_SSL_CA: "", DATABASE_USER: "" });
    expect(kafkaSecurity(config)).toEqual({});
    expect(config.DATABASE_URL).toBe("postgres://postgres@127.0.0.1:5432/txlog");
  });

  it("MSK IAM: OAUTHBEARER with a token AWS's signer makes from the credential chain, offline", async () => {
    vi.stubEnv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE");
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    const { ssl, sasl } = kafkaSecurity(
      loadConfig({ KAFKA_SSL: "true", KAFKA_SASL_MECHANISM: "aws-iam", AWS_REGION: "eu-west-1" }),
    );
    expect(ssl).toBe(true);
    expect(sasl?.mechanism).toBe("oauthbearer");
    const provider = (sasl as { oauthBearerProvider: () => Promise<{ value: string }> }).oauthBearerProvider;
    const url = new URL(Buffer.from((await provider()).value, "base64url").toString());
    expect(url.host).toBe("kafka.eu-west-1.amazonaws.com");
    expect(url.searchParams.get("Action")).toBe("kafka-cluster:Connect");
    expect(url.searchParams.get("X-Amz-Credential")).toMatch(
      /^AKIAIOSFODNN7EXAMPLE\/\d{8}\/eu-west-1\/kafka-cluster\/aws4_request$/,
    );
  });
});

describe("database credentials apart from DATABASE_URL", () => {
  it("are put into the URL percent-encoded, so any generated password works", () => {
    const password = "p#%@/:?&x";
    const { DATABASE_URL } = loadConfig({
      DATABASE_URL: "postgres://db.example:5432/txlog?sslmode=require",
      DATABASE_USER: "txlog_app",
      DATABASE_PASSWORD: password,
    });
    const url = new URL(DATABASE_URL);
    expect(url.host).toBe("db.example:5432");
    expect(url.search).toBe("?sslmode=require");
    expect(decodeURIComponent(url.username)).toBe("txlog_app");
    expect(decodeURIComponent(url.password)).toBe(password);
  });
});

describe("replication of the topics the project creates", () => {
  it("defaults to what the cluster's size allows: 1/1, 2/1, 3/2, and 3/2 beyond", () => {
    expect([1, 2, 3, 5].map(defaultReplication)).toEqual([
      { replicationFactor: 1, minInsyncReplicas: 1 },
      { replicationFactor: 2, minInsyncReplicas: 1 },
      { replicationFactor: 3, minInsyncReplicas: 2 },
      { replicationFactor: 3, minInsyncReplicas: 2 },
    ]);
  });

  it("reads KAFKA_REPLICATION_FACTOR and KAFKA_MIN_INSYNC_REPLICAS", () => {
    const config = loadConfig({ KAFKA_REPLICATION_FACTOR: "3", KAFKA_MIN_INSYNC_REPLICAS: "2" });
    expect([config.KAFKA_REPLICATION_FACTOR, config.KAFKA_MIN_INSYNC_REPLICAS]).toEqual([3, 2]);
    expect(loadConfig({}).KAFKA_REPLICATION_FACTOR).toBeUndefined();
  });
});

describe("native cluster layout (infra:up --brokers N)", () => {
  it("steps ports by 2 from the first broker and controller, or takes each from the lists", () => {
    expect(clusterLayout(["127.0.0.1:9092"], [9093], 3)).toEqual([
      { nodeId: 1, port: 9092, controllerPort: 9093 },
      { nodeId: 2, port: 9094, controllerPort: 9095 },
      { nodeId: 3, port: 9096, controllerPort: 9097 },
    ]);
    expect(clusterLayout(["127.0.0.1:1", "127.0.0.1:5", "127.0.0.1:9"], [2, 6, 10], 3).map((node) => node.port)).toEqual([
      1, 5, 9,
    ]);
    expect(() => clusterLayout(["127.0.0.1:1", "127.0.0.1:5"], [2], 3)).toThrow("KAFKA_BROKERS lists 2 brokers");
  });
});

describe("deployed stages (STAGE other than local)", () => {
  const tls = "postgres://db.example:5432/txlog?sslmode=verify-full";

  it("run with TLS to the database and no API key of their own (API Gateway checks it, not the functions)", () => {
    for (const DATABASE_URL of [tls, "postgres://db.example/txlog?sslmode=require", "postgres://db.example/txlog?ssl=true"]) {
      const config = loadConfig({ STAGE: "prod", DATABASE_URL });
      expect(config.DATABASE_URL).toBe(DATABASE_URL);
      expect(config.API_KEY).toBeUndefined();
    }
  });

  it("give local tools no development key to fall back on", () => {
    expect(() => requiredApiKey(loadConfig({ STAGE: "prod", DATABASE_URL: tls }))).toThrow(
      "API_KEY: required outside stage local (STAGE=prod)",
    );
    expect(requiredApiKey(loadConfig({}))).toBe("txlog-local-development-key");
  });

  it("read passwords from Secrets Manager, never from the environment (the function's configuration)", () => {
    const withSecrets = {
      STAGE: "prod",
      DATABASE_URL: tls,
      DATABASE_SECRET_ARN: SECRET.replace("AmazonMSK_txlog", "txlog-database"),
      KAFKA_SSL: "true",
      KAFKA_SASL_MECHANISM: "scram-sha-512",
      KAFKA_SASL_SECRET_ARN: SECRET,
    };
    const config = loadConfig(withSecrets);
    expect(config).toMatchObject({ DATABASE_URL: tls, DATABASE_SECRET_ARN: withSecrets.DATABASE_SECRET_ARN });
    expect(kafkaSecurity(config).sasl).toMatchObject({
      mechanism: "scram-sha-512",
      authenticationProvider: expect.any(Function),
    });
    expect(kafkaSecurity(config).sasl).not.toHaveProperty("password");

    const { DATABASE_SECRET_ARN: _database, KAFKA_SASL_SECRET_ARN: _kafka, ...plain } = withSecrets;
    for (const [env, message] of [
      [
        { ...plain, DATABASE_USER: "app", DATABASE_PASSWORD: "pw", KAFKA_SASL_USERNAME: "app", KAFKA_SASL_PASSWORD: "pw" },
        "invalid configuration: DATABASE_PASSWORD: stage prod reads the database password from Secrets Manager: set DATABASE_SECRET_ARN, not a password in DATABASE_PASSWORD or DATABASE_URL; KAFKA_SASL_PASSWORD: stage prod reads the SCRAM password from Secrets Manager: set KAFKA_SASL_SECRET_ARN, not KAFKA_SASL_PASSWORD",
      ],
      [
        { STAGE: "prod", DATABASE_URL: "postgres://app:pw@db.example/txlog?sslmode=verify-full" },
        "invalid configuration: DATABASE_PASSWORD: stage prod reads the database password from Secrets Manager",
      ],
    ] as const) {
      expect(() => loadConfig(env)).toThrow(message);
    }
    // Locally (npm start, the tests, tools) the environment's credentials are fine.
    expect(loadConfig({ DATABASE_PASSWORD: "pw", ...scram }).DATABASE_URL).toBe("postgres://postgres:pw@127.0.0.1:5432/txlog");
  });

  it("refuse several dangerous settings in one line", () => {
    expect(() => loadConfig({ STAGE: "prod", API_KEY: "txlog-local-development-key" })).toThrow(
      /^invalid configuration: DATABASE_URL: stage prod needs TLS[^\n]*; API_KEY: the public development key[^\n]*$/,
    );
  });
});
