import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { inflateRawSync } from "node:zlib";
import { collectKafkaEventDefinitions, pluginSettings } from "serverless-offline-kafka-trigger";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadConfig } from "../../lib/config.js";

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "../..");
/** osls (npm "osls", installed under the name serverless). */
const OSLS = join(ROOT, "node_modules/serverless/bin/serverless.js");

interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
}

/** This process's environment without API_KEY, plus `extra`: what a deployer's shell has. */
function envWithout(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { API_KEY: _ignored, ...rest } = process.env;
  return { ...rest, SLS_TELEMETRY_DISABLED: "1", SLS_NOTIFICATIONS_MODE: "off", ...extra };
}

function readTemplateResources(dir: string): Record<string, Resource> {
  const template = JSON.parse(readFileSync(join(dir, "cloudformation-template-update-stack.json"), "utf8")) as {
    Resources: Record<string, Resource>;
  };
  return template.Resources;
}

function readTemplate(dir: string): Resource[] {
  return Object.values(readTemplateResources(dir));
}

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

/** A zip file's entries by name (stored or deflated, as osls writes them; no zip64: the package is far below 4 GB). */
function zipEntries(file: string): Map<string, Buffer> {
  const zip = readFileSync(file);
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = zip.readUInt16LE(end + 10);
  const entries = new Map<string, Buffer>();
  for (let at = zip.readUInt32LE(end + 16), index = 0; index < count; index += 1) {
    const method = zip.readUInt16LE(at + 10);
    const size = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const name = zip.toString("utf8", at + 46, at + 46 + nameLength);
    const local = zip.readUInt32LE(at + 42);
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const data = zip.subarray(start, start + size);
    entries.set(name, method === 8 ? inflateRawSync(data) : Buffer.from(data));
    at += 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
  }
  return entries;
}

describe("npx sls package (offline)", () => {
  const out = mkdtempSync(join(tmpdir(), "txlog-package-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("builds a CloudFormation template with the HTTP routes and the MSK event source mapping", async () => {
    // The default stage, `local`, packages without API_KEY (with the public development key).
    await run("npx", ["sls", "package", "--package", out], {
      env: envWithout({
        ESBUILD_WORK_FOLDER: join(out, ".esbuild"),
        TRANSACTIONS_TOPIC: "transactions",
        DEAD_LETTER_TOPIC: "transactions.dead-letter",
      }),
      timeout: 120_000,
    });
    const resources = readTemplate(out);
    const paths = new Map(
      resources
        .filter((resource) => resource.Type === "AWS::ApiGateway::Resource")
        .map((resource) => [resource.Properties.PathPart as string, resource]),
    );
    const methods = resources
      .filter((resource) => resource.Type === "AWS::ApiGateway::Method")
      .map(
        (resource) => `${resource.Properties.HttpMethod} ${resource.Properties.ApiKeyRequired === true ? "private" : "public"}`,
      );
    expect(methods).toEqual(expect.arrayContaining(["POST private", "GET private"]));
    for (const part of ["transaction", "transactions", "{id}", "reports", "summary"]) expect(paths.has(part)).toBe(true);

    const [mapping, ...others] = resources.filter((resource) => resource.Type === "AWS::Lambda::EventSourceMapping");
    expect(others).toHaveLength(0);
    expect(mapping?.Properties).toMatchObject({
      Topics: ["transactions"],
      StartingPosition: "TRIM_HORIZON",
      BatchSize: 1000,
      // osls drops a window of 0 (AWS's default of 0.5 s would apply); plugins/kafka-event-options.cjs writes it.
      MaximumBatchingWindowInSeconds: 0,
      EventSourceArn: expect.stringMatching(/^arn:aws:kafka:/),
      AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: expect.any(String) },
      // Only content is poison, and the function dead-letters it itself: every function error is an outage,
      // retried until stored. No limit, no bisecting, no destination could send a valid record away.
      MaximumRetryAttempts: -1,
      BisectBatchOnFunctionError: false,
      ProvisionedPollerConfig: { MinimumPollers: 1, MaximumPollers: 3 },
    });
    expect(mapping?.Properties).not.toHaveProperty("DestinationConfig");
    expect(mapping?.Properties).not.toHaveProperty("MaximumRecordAgeInSeconds");
    // A stuck partition alarms instead: OffsetLag and Errors of the consume function, to the alarm topic.
    const alarms = resources.filter((resource) => resource.Type === "AWS::CloudWatch::Alarm").map((alarm) => alarm.Properties);
    expect(alarms).toEqual(
      expect.arrayContaining(
        ["OffsetLag", "Errors"].map((metric) =>
          expect.objectContaining({
            Namespace: "AWS/Lambda",
            MetricName: metric,
            Dimensions: [{ Name: "FunctionName", Value: "txlog-local-consume" }],
            AlarmActions: [{ Ref: "AlarmTopic" }],
          }),
        ),
      ),
    );
    const runtimes = resources.filter((resource) => resource.Type === "AWS::Lambda::Function").map((r) => r.Properties.Runtime);
    expect(new Set(runtimes)).toEqual(new Set(["nodejs22.x"]));
  }, 180_000);

  it("puts every event source mapping option the local trigger honours into the template (msk and kafka events)", async () => {
    // test/fixtures/esm-options/serverless.yml with plugins/kafka-event-options.cjs beside it.
    const service = join(out, "esm-options");
    mkdirSync(service, { recursive: true });
    for (const file of ["serverless.yml", "handler.js"])
      copyFileSync(join(ROOT, "test/fixtures/esm-options", file), join(service, file));
    copyFileSync(join(ROOT, "plugins/kafka-event-options.cjs"), join(service, "kafka-event-options.cjs"));
    await run(process.execPath, [OSLS, "package", "--package", join(service, ".serverless")], {
      cwd: service,
      env: envWithout(),
      timeout: 120_000,
    });
    const mappings = readTemplate(join(service, ".serverless")).filter((r) => r.Type === "AWS::Lambda::EventSourceMapping");
    const msk = mappings.find((r) => r.Properties.EventSourceArn)?.Properties;
    const kafka = mappings.find((r) => r.Properties.SelfManagedEventSource)?.Properties;
    expect(msk).toMatchObject({
      Topics: ["transactions"],
      BatchSize: 250,
      MaximumBatchingWindowInSeconds: 0,
      StartingPosition: "AT_TIMESTAMP",
      StartingPositionTimestamp: 1767225600,
      Enabled: false,
      AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: "txlog-consume" },
      FilterCriteria: { Filters: [{ Pattern: JSON.stringify({ value: { type: ["PAYMENT", "TRANSFER"] } }) }] },
      MaximumRetryAttempts: 10,
      BisectBatchOnFunctionError: true,
      MaximumRecordAgeInSeconds: 3600,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      DestinationConfig: { OnFailure: { Destination: "kafka://transactions.dead-letter" } },
      ProvisionedPollerConfig: { MinimumPollers: 1, MaximumPollers: 3 },
    });
    expect(kafka).toMatchObject({
      Topics: ["audit"],
      SelfManagedEventSource: { Endpoints: { KafkaBootstrapServers: ["broker-1.example:9092"] } },
      BatchSize: 50,
      MaximumBatchingWindowInSeconds: 2,
      StartingPosition: "LATEST",
      SelfManagedKafkaEventSourceConfig: { ConsumerGroupId: "txlog-audit" },
      MaximumRetryAttempts: 2,
      BisectBatchOnFunctionError: false,
      MaximumRecordAgeInSeconds: -1,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      DestinationConfig: { OnFailure: { Destination: "kafka://audit.failed" } },
    });
    expect(kafka?.EventSourceArn).toBeUndefined();
    // The local trigger reads the very same events, option for option.
    const { functions } = parse(readFileSync(join(ROOT, "test/fixtures/esm-options/serverless.yml"), "utf8"));
    const [local, localKafka] = collectKafkaEventDefinitions("txlog-esm-options", functions);
    expect(local).toMatchObject({
      eventType: "msk",
      batchSize: 250,
      maximumBatchingWindowMs: 0,
      startingPosition: "AT_TIMESTAMP",
      startingPositionTimestamp: 1767225600,
      enabled: false,
      consumerGroupId: "txlog-consume",
      maximumRetryAttempts: 10,
      bisectBatchOnFunctionError: true,
      maximumRecordAgeInSeconds: 3600,
      reportBatchItemFailures: true,
      onFailureTopic: "transactions.dead-letter",
    });
    expect(local?.filters).toHaveLength(1);
    expect(localKafka).toMatchObject({ eventType: "kafka", eventSourceArn: undefined, onFailureTopic: "audit.failed" });
  }, 180_000);

  describe("a stage other than local", () => {
    const prod = join(out, "prod");
    /** The AWS resources a deployed stage runs against (docs/deploy.md). */
    const resources = {
      mskClusterArn: "arn:aws:kafka:eu-west-1:123456789012:cluster/txlog/6a1f2c3d-1111-2222-3333-444455556666-2",
      mskSecretArn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:AmazonMSK_txlog-prod-Ab12Cd",
      databaseSecretArn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:txlog-prod-database-Ef34Gh",
      subnetIds: "subnet-0a1b2c3d4e5f60718,subnet-0918273645aabbccd",
      securityGroupIds: "sg-0123456789abcdef0",
    };
    const params = Object.entries(resources).map(([name, value]) => `--param=${name}=${value}`);

    /** `sls package --stage prod` into `prod`, with `args` and, beside the deployer's environment, `env`. */
    const packageProd = (args: string[], env: Record<string, string>) =>
      run("npx", ["sls", "package", "--stage", "prod", "--package", prod, ...args], {
        env: envWithout({ ESBUILD_WORK_FOLDER: join(out, ".esbuild-prod"), ...env }),
        timeout: 120_000,
      });

    /** What a refused packageProd printed, once it exited 1 and wrote no template. */
    async function refusedPackage(args: string[], env: Record<string, string>): Promise<string> {
      const failed = await packageProd(args, env).then(
        () => undefined,
        (error: { code?: number; stdout?: string; stderr?: string }) => error,
      );
      expect(failed?.code).toBe(1);
      expect(existsSync(join(prod, "cloudformation-template-update-stack.json"))).toBe(false);
      return `${failed?.stdout}${failed?.stderr}`;
    }

    it("fails without the AWS resources (--param), naming each, and writes nothing", async () => {
      const said = await refusedPackage([params[0] as string], {});
      expect(said).toContain('Stage "prod" runs on AWS and needs its resources');
      for (const name of ["mskSecretArn", "databaseSecretArn", "subnetIds", "securityGroupIds"]) {
        expect(said).toContain(`--param="${name}=..."`);
      }
      expect(said).not.toContain('--param="mskClusterArn=..."');
    });

    it("packages with --param and no secret anywhere: secret ARNs in the functions' environment, read with their role; a generated API key", async () => {
      // What a deployer's shell may hold (local credentials, a key for local tools): none of it may reach the package.
      const deployerSecrets = {
        API_KEY: `key-${randomBytes(16).toString("hex")}`,
        DATABASE_USER: `user${randomBytes(6).toString("hex")}`,
        DATABASE_PASSWORD: `dbpw-${randomBytes(16).toString("hex")}`,
        KAFKA_SASL_USERNAME: `scram${randomBytes(6).toString("hex")}`,
        KAFKA_SASL_PASSWORD: `scrampw-${randomBytes(16).toString("hex")}`,
        DATABASE_URL: `postgres://admin:urlpw-${randomBytes(8).toString("hex")}@db.example:5432/txlog`,
      };
      await packageProd(params, deployerSecrets);
      const text = readFileSync(join(prod, "cloudformation-template-update-stack.json"), "utf8");
      const template = readTemplate(prod);

      // API Gateway generates the key's value at deploy: the template names the key and holds no value.
      const keys = template.filter((resource) => resource.Type === "AWS::ApiGateway::ApiKey");
      expect(keys.map((resource) => resource.Properties)).toEqual([
        expect.objectContaining({ Name: "txlog-prod", Enabled: true }),
      ]);
      expect(keys[0]?.Properties).not.toHaveProperty("Value");

      // No secret value, and no reference CloudFormation would resolve into one, anywhere in the template.
      for (const value of [...Object.values(deployerSecrets), "txlog-local-development-key"]) expect(text).not.toContain(value);
      expect(text).not.toContain("{{resolve:secretsmanager");
      // ... nor in the code and files the functions are deployed with.
      const files = zipEntries(join(prod, "txlog.zip"));
      expect(files.size).toBeGreaterThan(5);
      for (const [name, content] of files) {
        for (const value of Object.values(deployerSecrets)) expect(content.includes(value), `${name} holds ${value}`).toBe(false);
      }
      // The Secrets Manager client is not bundled: Lambda's Node.js runtime provides it (and resolves an import()
      // from NODE_PATH, where it is, since Node 18).
      expect([...files.keys()].filter((name) => name.includes("@aws-sdk"))).toEqual([]);
      expect(files.get("handlers/consume.cjs")?.toString()).toContain('import("@aws-sdk/client-secrets-manager")');
      expect(files.get("handlers/consume.cjs")?.toString()).not.toContain("GetSecretValueCommand = class");

      const functions = template.filter((resource) => resource.Type === "AWS::Lambda::Function");
      expect(functions.length).toBeGreaterThan(5);
      for (const { Properties } of functions) {
        expect(Properties.VpcConfig).toEqual({
          SecurityGroupIds: { "Fn::Split": [",", resources.securityGroupIds] },
          SubnetIds: { "Fn::Split": [",", resources.subnetIds] },
        });
        // Only where the secrets are: the functions read them at cold start (lib/secrets.ts).
        const variables = (Properties.Environment as { Variables: Record<string, string> }).Variables;
        expect(variables).toMatchObject({
          KAFKA_BROKERS: "{{resolve:ssm:/txlog/prod/kafka-bootstrap-brokers}}",
          KAFKA_SSL: "true",
          KAFKA_SASL_MECHANISM: "scram-sha-512",
          KAFKA_SASL_SECRET_ARN: resources.mskSecretArn,
          DATABASE_URL: "{{resolve:ssm:/txlog/prod/database-url}}",
          DATABASE_SECRET_ARN: resources.databaseSecretArn,
        });
        for (const name of ["KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD", "DATABASE_USER", "DATABASE_PASSWORD", "API_KEY"]) {
          expect(variables[name] ?? "", name).toBe("");
        }
        expect(Object.values(variables).filter((value) => /\{\{resolve:(secretsmanager|ssm-secure):/.test(value))).toEqual([]);
      }
      const [mapping] = template.filter((resource) => resource.Type === "AWS::Lambda::EventSourceMapping");
      expect(mapping?.Properties).toMatchObject({
        EventSourceArn: resources.mskClusterArn,
        SourceAccessConfigurations: [{ Type: "SASL_SCRAM_512_AUTH", URI: resources.mskSecretArn }],
      });
      // The role (of the functions and the trigger) may read these two secrets and no other.
      const role = template.find((resource) => resource.Type === "AWS::IAM::Role");
      const policies = (role?.Properties.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[];
      const statements = policies.flatMap((policy) => policy.PolicyDocument.Statement);
      expect(statements.length).toBeGreaterThan(3);
      const secretStatements = statements.filter((statement) =>
        [statement.Action].flat().some((action) => action.toLowerCase().startsWith("secretsmanager:")),
      );
      expect(secretStatements).toEqual([
        {
          Effect: "Allow",
          Action: ["secretsmanager:GetSecretValue"],
          Resource: [resources.mskSecretArn, resources.databaseSecretArn],
        },
      ]);
      expect(statements.filter((statement) => [statement.Action].flat().includes("*"))).toEqual([]);
      expect(JSON.stringify(role?.Properties)).toContain("AWSLambdaVPCAccessExecutionRole");
    });

    it("throttles the stage: the key's usage plan, every route, each public route lower, and reserved concurrency", async () => {
      await packageProd([...params, "--param=publicRateLimit=5"], {});
      const template = readTemplate(prod);
      const [plan, ...otherPlans] = template.filter((resource) => resource.Type === "AWS::ApiGateway::UsagePlan");
      expect(otherPlans).toHaveLength(0);
      expect(plan?.Properties).toMatchObject({
        Throttle: { RateLimit: 100, BurstLimit: 200 },
        Quota: { Limit: 1_000_000, Period: "DAY" },
      });

      // The public routes, read from the template: methods without ApiKeyRequired, each with its resource path.
      const byId = new Map(Object.entries(readTemplateResources(prod)));
      const pathOf = (resourceId: unknown): string => {
        const ref = (resourceId as { Ref?: string }).Ref;
        if (ref === undefined) return ""; // the REST API's root resource
        const resource = byId.get(ref);
        if (!resource) throw new Error(`no resource ${ref}`);
        const { PathPart, ParentId } = resource.Properties as { PathPart: string; ParentId: unknown };
        return `${pathOf(ParentId)}/${PathPart}`;
      };
      const publicRoutes = template
        .filter((resource) => resource.Type === "AWS::ApiGateway::Method" && resource.Properties.HttpMethod !== "OPTIONS")
        .filter((resource) => resource.Properties.ApiKeyRequired !== true)
        .map((resource) => `${resource.Properties.HttpMethod} ${pathOf(resource.Properties.ResourceId) || "/"}`)
        .sort();
      expect(publicRoutes).toEqual(
        ["GET /", "GET /dashboard/{file}", "GET /docs", "GET /docs/{file+}", "GET /health", "GET /openapi.json"].sort(),
      );

      const [deployment] = template.filter((resource) => resource.Type === "AWS::ApiGateway::Deployment");
      const stage = deployment?.Properties.StageDescription as {
        ThrottlingRateLimit: number;
        ThrottlingBurstLimit: number;
        MethodSettings: { ResourcePath: string; HttpMethod: string; ThrottlingRateLimit: number; ThrottlingBurstLimit: number }[];
      };
      expect(deployment?.Properties.StageName).toBe("prod");
      expect(stage).toMatchObject({ ThrottlingRateLimit: 200, ThrottlingBurstLimit: 400 });
      // MethodSettings name a path with each "/" as "~1"; --param changed the public rate.
      const throttled = stage.MethodSettings.map(
        (setting) =>
          `${setting.HttpMethod} ${setting.ResourcePath === "/" ? "/" : setting.ResourcePath.slice(1).replaceAll("~1", "/")} ${setting.ThrottlingRateLimit}/${setting.ThrottlingBurstLimit}`,
      );
      expect(throttled.sort()).toEqual(publicRoutes.map((route) => `${route} 5/20`));

      const reserved = Object.fromEntries(
        template
          .filter((resource) => resource.Type === "AWS::Lambda::Function")
          .map((resource) => [resource.Properties.FunctionName, resource.Properties.ReservedConcurrentExecutions]),
      );
      expect(reserved["txlog-prod-consume"]).toBe(10);
      for (const name of ["health", "openapi", "docs", "docs-assets", "dashboard", "dashboard-assets"]) {
        expect(reserved[`txlog-prod-${name}`], name).toBe(2);
      }
    });
  });
});

describe("the local trigger's switch", () => {
  /** custom.offlineKafka as osls resolves serverless.yml in `env`, read by the trigger package's own parser. */
  async function resolvedSettings(extra: Record<string, string>) {
    const { OFFLINE_KAFKA_ENABLED: _unset, ...env } = envWithout(extra);
    const { stdout } = await run(process.execPath, [OSLS, "print", "--path", "custom.offlineKafka", "--format", "json"], {
      cwd: ROOT,
      env: { ...env, ...extra },
    });
    return pluginSettings({ offlineKafka: JSON.parse(stdout) });
  }

  it("is a plugin setting, custom.offlineKafka.enabled, from OFFLINE_KAFKA_ENABLED (default on); not the functions' config", async () => {
    expect(await resolvedSettings({})).toEqual({ enabled: true });
    expect(await resolvedSettings({ OFFLINE_KAFKA_ENABLED: "false" })).toEqual({ enabled: false });
    expect(await resolvedSettings({ OFFLINE_KAFKA_ENABLED: "true" })).toEqual({ enabled: true });
    expect(Object.keys(loadConfig({}))).not.toContain("OFFLINE_KAFKA_ENABLED");
  });
});
