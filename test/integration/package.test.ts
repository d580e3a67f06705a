import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const run = promisify(execFile);

interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
}

describe("npx sls package (offline)", () => {
  const out = mkdtempSync(join(tmpdir(), "txlog-package-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("builds a CloudFormation template with the HTTP routes and the MSK event source mapping", async () => {
    await run("npx", ["sls", "package", "--package", out], {
      env: { ...process.env, ESBUILD_WORK_FOLDER: join(out, ".esbuild"), TRANSACTIONS_TOPIC: "transactions" },
      timeout: 120_000,
    });
    const template = JSON.parse(readFileSync(join(out, "cloudformation-template-update-stack.json"), "utf8")) as {
      Resources: Record<string, Resource>;
    };
    const resources = Object.values(template.Resources);
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
});
