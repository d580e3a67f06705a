import { z } from "zod";

/** Unset or empty (serverless.yml passes '' for a setting a stage does not use): undefined. */
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (value === "" ? undefined : value), schema.optional());

/**
 * Every environment variable the deployed functions read, parsed and validated once. Defaults match
 * what `npm run infra:up` starts, so a fresh checkout runs without a .env file. Settings only a
 * developer machine reads (cache directory, controller and serverless-offline ports, the database URL
 * infra:up recorded) live in scripts/infra/settings.ts; nothing here reads a file.
 */
/** The only stage that may run on the development defaults (plugins/stage.cjs LOCAL_STAGE). */
export const LOCAL_STAGE = "local";
/** stage `local`'s API key: public (README.md, .env.example), so never a deployed stage's. */
export const DEVELOPMENT_API_KEY = "txlog-local-development-key";
/** sslmode values that always mean TLS (libpq's prefer and allow fall back to plaintext, so they do not count). */
const TLS_SSLMODES = new Set(["require", "verify-ca", "verify-full", "no-verify"]);

/** A Secrets Manager secret's full ARN (the functions' role may read exactly these). */
const SECRET_ARN = /^arn:aws[\w-]*:secretsmanager:[a-z]{2}(-[a-z]+)+-\d:\d{12}:secret:.+$/;
const secretArn = optional(z.string().regex(SECRET_ARN, "expected a Secrets Manager secret ARN"));

/** Whether node-postgres connects to this URL over TLS (sslmode or ssl=true, as pg-connection-string reads them). */
function databaseUsesTls(databaseUrl: string): boolean {
  const { searchParams } = new URL(databaseUrl);
  const sslmode = searchParams.get("sslmode");
  if (sslmode !== null) return TLS_SSLMODES.has(sslmode);
  const ssl = searchParams.get("ssl");
  return ssl === "true" || ssl === "1";
}

const ConfigSchema = z
  .object({
    /** serverless.yml sets it to the stage (`sls:stage`); everything else (scripts, the worker, tests) is `local`. */
    STAGE: z.string().min(1).default(LOCAL_STAGE),
    KAFKA_BROKERS: z
      .string()
      .default("127.0.0.1:9092")
      .transform((value) =>
        value
          .split(",")
          .map((broker) => broker.trim())
          .filter(Boolean),
      )
      .pipe(z.array(z.string().regex(/^[^:\s]+:\d+$/, "expected host:port")).min(1)),
    KAFKA_CLIENT_ID: z.string().min(1).default("txlog"),
    /**
     * Replication of the topics the project creates (lib/kafka/admin.ts ensureTopics). Unset: from the cluster's
     * size when the topic is created: 1 and 1 on one broker, 3 and 2 on three or more (2 and 1 on two).
     */
    KAFKA_REPLICATION_FACTOR: optional(z.coerce.number().int().min(1).max(7)),
    KAFKA_MIN_INSYNC_REPLICAS: optional(z.coerce.number().int().min(1).max(7)),
    /** TLS to the brokers (MSK: the TLS bootstrap brokers, ports 9094/9096/9098). */
    KAFKA_SSL: z.stringbool().default(false),
    /** PEM certificate(s) to trust for the brokers instead of Node's CA store (a private CA; MSK needs none). */
    KAFKA_SSL_CA: optional(z.string().includes("-----BEGIN CERTIFICATE-----", { message: "expected PEM certificates" })),
    /**
     * SASL: none, SCRAM (MSK: the secret's user, port 9096) or aws-iam (MSK IAM through AWS's signer
     * aws-msk-iam-sasl-signer-js as OAUTHBEARER, the function's role as identity, port 9098). Only over TLS.
     */
    KAFKA_SASL_MECHANISM: z.enum(["none", "scram-sha-256", "scram-sha-512", "aws-iam"]).default("none"),
    KAFKA_SASL_USERNAME: optional(z.string().min(1)),
    KAFKA_SASL_PASSWORD: optional(z.string().min(1)),
    /**
     * SCRAM's user and password from this secret ({"username","password"}, the one MSK's trigger reads) instead
     * of KAFKA_SASL_USERNAME/PASSWORD: read with the function's role before the first login (lib/secrets.ts).
     */
    KAFKA_SASL_SECRET_ARN: secretArn,
    /** Set by Lambda; the region aws-iam signs for. */
    AWS_REGION: optional(z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, "expected an AWS region such as eu-west-1")),
    TRANSACTIONS_TOPIC: z.string().min(1).default("transactions"),
    DEAD_LETTER_TOPIC: z.string().min(1).default("transactions.dead-letter"),
    TOPIC_PARTITIONS: z.coerce.number().int().min(1).max(1000).default(3),
    CONSUMER_GROUP_ID: z.string().min(1).default("txlog-consume"),
    DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).default("postgres://postgres@127.0.0.1:5432/txlog"),
    /**
     * Credentials put into DATABASE_URL (percent-encoded, replacing the URL's own), so a generated password never
     * needs URL-escaping. Local runs and tools; deployed stages read them from DATABASE_SECRET_ARN.
     */
    DATABASE_USER: optional(z.string().min(1)),
    DATABASE_PASSWORD: optional(z.string().min(1)),
    /**
     * The database user's secret ({"username","password"}, as RDS/Aurora keep it) instead of DATABASE_USER and
     * DATABASE_PASSWORD: read with the function's role before the first connection (lib/db/client.ts), so no
     * password is in the function's configuration; its user replaces DATABASE_URL's. Deployed stages use this.
     */
    DATABASE_SECRET_ARN: secretArn,
    /**
     * Connections of this process's one pool. PostgreSQL's default max_connections is 100: the API process
     * and a worker at 10 each, plus seed, tests and psql, stay well under it.
     */
    DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(100).default(10),
    /** PostgreSQL cancels any statement running longer (statement_timeout); the client gives up a little later. */
    DATABASE_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(15_000),
    /**
     * The API's reads: PostgreSQL cancels a read statement running longer (a lock, a slow plan), and the route
     * answers 503 + Retry-After. With the 1 s wait for a connection, a read answers within about 5 s.
     */
    DATABASE_READ_TIMEOUT_MS: z.coerce.number().int().min(100).max(10_000).default(2_500),
    /** Set by `serverless invoke local`: one invocation per process, so handlers release their clients after it. */
    IS_LOCAL: z.stringbool().default(false),
    /** Set by serverless-offline for the handlers it runs: there the API key is read from x-api-key (lib/http/api-key.ts). */
    IS_OFFLINE: z.stringbool().default(false),
    /**
     * The API key every non-docs route requires (header x-api-key). Stage `local`: serverless.yml's
     * provider.apiGateway.apiKeys takes it from the environment, with this public default. A deployed stage's key
     * is generated by API Gateway (never in the template); local tools pointed at that stage (simulate) are given
     * it here. API Gateway wants 20 to 128 characters. The handlers never read it (API Gateway checks the key);
     * local tools (start, simulate, the worker's /metrics) do. Unset outside stage `local`: undefined.
     */
    API_KEY: optional(z.string().min(20).max(128)),
    /** Largest body POST /transaction accepts (bytes); larger ones get 413. */
    MAX_BODY_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .default(64 * 1024),
    /** Largest body POST /transactions accepts (bytes). */
    MAX_BULK_BODY_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .max(6 * 1024 * 1024)
      .default(1024 * 1024),
    /** Most transactions one POST /transactions may carry. */
    MAX_BULK_TRANSACTIONS: z.coerce.number().int().min(1).max(10_000).default(1_000),
    /**
     * Most messages this process holds waiting for their Kafka send (lib/kafka/producer.ts); a produce that would
     * go past it fails at once (503 + Retry-After: 1). About half a second of the bulk route's throughput. At
     * least 10,000, the largest MSK batch: the consumer produces a batch's dead letters all at once.
     */
    MAX_PENDING_PRODUCE_MESSAGES: z.coerce.number().int().min(10_000).max(1_000_000).default(20_000),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  })
  .superRefine((value, context) => {
    const problem = (path: string, message: string) => context.addIssue({ code: "custom", path: [path], message });
    const { KAFKA_SASL_MECHANISM: mechanism } = value;
    if (mechanism !== "none" && !value.KAFKA_SSL) {
      problem("KAFKA_SASL_MECHANISM", `${mechanism} needs KAFKA_SSL=true (MSK serves SASL only over TLS)`);
    }
    const plainScram = value.KAFKA_SASL_USERNAME !== undefined || value.KAFKA_SASL_PASSWORD !== undefined;
    if (!mechanism.startsWith("scram-")) {
      if (plainScram || value.KAFKA_SASL_SECRET_ARN) {
        problem("KAFKA_SASL_USERNAME", `KAFKA_SASL_USERNAME/PASSWORD/SECRET_ARN are for scram-sha-256/512, not ${mechanism}`);
      }
    } else if (value.KAFKA_SASL_SECRET_ARN) {
      if (plainScram)
        problem("KAFKA_SASL_SECRET_ARN", "the SCRAM user comes from the secret: leave KAFKA_SASL_USERNAME/PASSWORD unset");
    } else {
      const required = `required with KAFKA_SASL_MECHANISM=${mechanism} (or KAFKA_SASL_SECRET_ARN)`;
      if (!value.KAFKA_SASL_USERNAME) problem("KAFKA_SASL_USERNAME", required);
      if (!value.KAFKA_SASL_PASSWORD) problem("KAFKA_SASL_PASSWORD", required);
    }
    const url = new URL(value.DATABASE_URL);
    const plainDatabasePassword = value.DATABASE_PASSWORD !== undefined || url.password !== "";
    if (value.DATABASE_SECRET_ARN && (plainDatabasePassword || value.DATABASE_USER !== undefined)) {
      problem(
        "DATABASE_SECRET_ARN",
        "the database user comes from the secret: leave DATABASE_USER/DATABASE_PASSWORD unset and DATABASE_URL without a password",
      );
    }
    if (mechanism === "aws-iam" && !value.AWS_REGION) problem("AWS_REGION", "required with KAFKA_SASL_MECHANISM=aws-iam");
    if (value.KAFKA_SSL_CA && !value.KAFKA_SSL) problem("KAFKA_SSL_CA", "only used with KAFKA_SSL=true");
    // A poison record would be dead-lettered into the topic it came from and read again, for ever.
    if (value.DEAD_LETTER_TOPIC === value.TRANSACTIONS_TOPIC) {
      problem("DEAD_LETTER_TOPIC", `must not be the transactions topic (${value.TRANSACTIONS_TOPIC}): poison would loop`);
    }
    // Outside `local` the development fallbacks are public knowledge: refuse them rather than run on them.
    if (value.STAGE !== LOCAL_STAGE) {
      if (!databaseUsesTls(value.DATABASE_URL)) {
        problem(
          "DATABASE_URL",
          `stage ${value.STAGE} needs TLS to the database: add sslmode=verify-full (or require) to the URL`,
        );
      }
      // A password in the environment is in the function's configuration, readable by whoever may read that.
      if (plainDatabasePassword && !value.DATABASE_SECRET_ARN) {
        problem(
          "DATABASE_PASSWORD",
          `stage ${value.STAGE} reads the database password from Secrets Manager: set DATABASE_SECRET_ARN, not a password in DATABASE_PASSWORD or DATABASE_URL`,
        );
      }
      if (value.KAFKA_SASL_PASSWORD !== undefined && !value.KAFKA_SASL_SECRET_ARN) {
        problem(
          "KAFKA_SASL_PASSWORD",
          `stage ${value.STAGE} reads the SCRAM password from Secrets Manager: set KAFKA_SASL_SECRET_ARN, not KAFKA_SASL_PASSWORD`,
        );
      }
      if (value.API_KEY === DEVELOPMENT_API_KEY) {
        problem("API_KEY", `the public development key serves stage ${LOCAL_STAGE} only, not ${value.STAGE}: set your own`);
      }
    }
    const { KAFKA_REPLICATION_FACTOR: factor, KAFKA_MIN_INSYNC_REPLICAS: minInsync } = value;
    if (minInsync !== undefined && minInsync > (factor ?? minInsync)) {
      problem("KAFKA_MIN_INSYNC_REPLICAS", `must not exceed KAFKA_REPLICATION_FACTOR (${factor})`);
    }
  })
  .transform(({ DATABASE_USER, DATABASE_PASSWORD, API_KEY, ...settings }) => {
    const rest = { ...settings, API_KEY: API_KEY ?? (settings.STAGE === LOCAL_STAGE ? DEVELOPMENT_API_KEY : undefined) };
    if (DATABASE_USER === undefined && DATABASE_PASSWORD === undefined) return rest;
    return { ...rest, DATABASE_URL: withCredentials(rest.DATABASE_URL, DATABASE_USER, DATABASE_PASSWORD) };
  });

/** `databaseUrl` with this user and password (each left as it is when undefined). */
export function withCredentials(databaseUrl: string, user: string | undefined, password: string | undefined): string {
  const url = new URL(databaseUrl);
  // Encoded in full (the URL setters leave "%" alone); pg decodes them back.
  if (user !== undefined) url.username = encodeURIComponent(user);
  if (password !== undefined) url.password = encodeURIComponent(password);
  return url.toString();
}

export type Config = z.infer<typeof ConfigSchema>;

export class ConfigError extends Error {
  override name = "ConfigError";
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = ConfigSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join("; ")}`);
  }
  return parsed.data;
}

export const config: Config = loadConfig();

/** The API key a local tool serves or sends; outside stage `local` only an explicit API_KEY. */
export function requiredApiKey(settings: Pick<Config, "API_KEY" | "STAGE">): string {
  if (settings.API_KEY === undefined) {
    throw new ConfigError(`invalid configuration: API_KEY: required outside stage ${LOCAL_STAGE} (STAGE=${settings.STAGE})`);
  }
  return settings.API_KEY;
}
