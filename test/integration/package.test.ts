import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { collectKafkaEventDefinitions } from "serverless-offline-kafka-trigger";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";

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
      BatchSize: 500,
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
    /** The AWS resources a deployed stage runs against (README, "Deploy to AWS"). */
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

    it.each([
      ["without API_KEY", {}, "API_KEY is not set."],
      ["with the development key", { API_KEY: "txlog-local-development-key" }, "API_KEY is the public local development key."],
      ["with a short key", { API_KEY: "too-short" }, "API_KEY must be 20 to 128 characters (it has 9)."],
    ])("fails %s, with a message naming API_KEY, and writes nothing", async (_case, extra, reason) => {
      const said = await refusedPackage([], extra);
      expect(said).toContain(`${reason} Stage "prod" needs its own API key: set the environment variable API_KEY`);
    });

    it("fails without the AWS resources (--param), naming each, and writes nothing", async () => {
      const apiKey = `prod-${randomBytes(16).toString("hex")}`;
      const said = await refusedPackage([params[0] as string], { API_KEY: apiKey });
      expect(said).toContain('Stage "prod" runs on AWS and needs its resources');
      for (const name of ["mskSecretArn", "databaseSecretArn", "subnetIds", "securityGroupIds"]) {
        expect(said).toContain(`--param="${name}=..."`);
      }
      expect(said).not.toContain('--param="mskClusterArn=..."');
    });

    it("packages with API_KEY and --param: the key named for the stage, VPC, SASL/SCRAM secret, secrets by reference", async () => {
      const apiKey = `prod-${randomBytes(16).toString("hex")}`;
      await packageProd(params, { API_KEY: apiKey });
      const template = readTemplate(prod);
      const keys = template.filter((resource) => resource.Type === "AWS::ApiGateway::ApiKey");
      expect(keys.map((resource) => resource.Properties)).toEqual([
        expect.objectContaining({ Name: "txlog-prod", Value: apiKey, Enabled: true }),
      ]);

      const functions = template.filter((resource) => resource.Type === "AWS::Lambda::Function");
      expect(functions.length).toBeGreaterThan(5);
      const secret = (arn: string, key: string) => `{{resolve:secretsmanager:${arn}:SecretString:${key}}}`;
      for (const { Properties } of functions) {
        expect(Properties.VpcConfig).toEqual({
          SecurityGroupIds: { "Fn::Split": [",", resources.securityGroupIds] },
          SubnetIds: { "Fn::Split": [",", resources.subnetIds] },
        });
        // CloudFormation resolves these at deploy time: no credential is in the template or the package.
        expect((Properties.Environment as { Variables: Record<string, string> }).Variables).toMatchObject({
          KAFKA_BROKERS: "{{resolve:ssm:/txlog/prod/kafka-bootstrap-brokers}}",
          KAFKA_SSL: "true",
          KAFKA_SASL_MECHANISM: "scram-sha-512",
          KAFKA_SASL_USERNAME: secret(resources.mskSecretArn, "username"),
          KAFKA_SASL_PASSWORD: secret(resources.mskSecretArn, "password"),
          DATABASE_URL: "{{resolve:ssm:/txlog/prod/database-url}}",
          DATABASE_USER: secret(resources.databaseSecretArn, "username"),
          DATABASE_PASSWORD: secret(resources.databaseSecretArn, "password"),
        });
      }
      const [mapping] = template.filter((resource) => resource.Type === "AWS::Lambda::EventSourceMapping");
      expect(mapping?.Properties).toMatchObject({
        EventSourceArn: resources.mskClusterArn,
        SourceAccessConfigurations: [{ Type: "SASL_SCRAM_512_AUTH", URI: resources.mskSecretArn }],
      });
      // The trigger reads the secret with the function's role.
      const role = template.find((resource) => resource.Type === "AWS::IAM::Role");
      const statements = JSON.stringify(role?.Properties);
      expect(statements).toContain(`"Action":["secretsmanager:GetSecretValue"],"Resource":"${resources.mskSecretArn}"`);
      expect(statements).toContain("AWSLambdaVPCAccessExecutionRole");
    });

    it("throttles the stage: the key's usage plan, every route, each public route lower, and reserved concurrency", async () => {
      await packageProd([...params, "--param=publicRateLimit=5"], { API_KEY: `prod-${randomBytes(16).toString("hex")}` });
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
