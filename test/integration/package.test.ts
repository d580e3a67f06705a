import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const run = promisify(execFile);

interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
}

/** This process's environment without API_KEY, plus `extra`: what a deployer's shell has. */
function envWithout(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { API_KEY: _ignored, ...rest } = process.env;
  return { ...rest, SLS_TELEMETRY_DISABLED: "1", SLS_NOTIFICATIONS_MODE: "off", ...extra };
}

function readTemplate(dir: string): Resource[] {
  const template = JSON.parse(readFileSync(join(dir, "cloudformation-template-update-stack.json"), "utf8")) as {
    Resources: Record<string, Resource>;
  };
  return Object.values(template.Resources);
}

describe("npx sls package (offline)", () => {
  const out = mkdtempSync(join(tmpdir(), "txlog-package-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("builds a CloudFormation template with the HTTP routes and the MSK event source mapping", async () => {
    // The default stage, `local`, packages without API_KEY (with the public development key).
    await run("npx", ["sls", "package", "--package", out], {
      env: envWithout({ ESBUILD_WORK_FOLDER: join(out, ".esbuild"), TRANSACTIONS_TOPIC: "transactions" }),
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
      EventSourceArn: expect.stringMatching(/^arn:aws:kafka:/),
    });
  });

  describe("a stage other than local", () => {
    const prod = join(out, "prod");

    it.each([
      ["without API_KEY", {}, "API_KEY is not set."],
      ["with the development key", { API_KEY: "txlog-local-development-key" }, "API_KEY is the public local development key."],
      ["with a short key", { API_KEY: "too-short" }, "API_KEY must be 20 to 128 characters (it has 9)."],
    ])("fails %s, with a message naming API_KEY, and writes nothing", async (_case, extra, reason) => {
      const failed = await run("npx", ["sls", "package", "--stage", "prod", "--package", prod], {
        env: envWithout({ ESBUILD_WORK_FOLDER: join(out, ".esbuild-prod"), ...extra }),
        timeout: 120_000,
      }).then(
        () => undefined,
        (error: { code?: number; stdout?: string; stderr?: string }) => error,
      );
      expect(failed?.code).toBe(1);
      const said = `${failed?.stdout}${failed?.stderr}`;
      expect(said).toContain(`${reason} Stage "prod" needs its own API key: set the environment variable API_KEY`);
      expect(existsSync(join(prod, "cloudformation-template-update-stack.json"))).toBe(false);
    });

    it("packages with API_KEY, and the template carries that key, named for the stage", async () => {
      const apiKey = `prod-${randomBytes(16).toString("hex")}`;
      await run("npx", ["sls", "package", "--stage", "prod", "--package", prod], {
        env: envWithout({ ESBUILD_WORK_FOLDER: join(out, ".esbuild-prod"), API_KEY: apiKey }),
        timeout: 120_000,
      });
      const keys = readTemplate(prod).filter((resource) => resource.Type === "AWS::ApiGateway::ApiKey");
      expect(keys.map((resource) => resource.Properties)).toEqual([
        expect.objectContaining({ Name: "txlog-prod", Value: apiKey, Enabled: true }),
      ]);
    });
  });
});
