import SwaggerParser from "@apidevtools/swagger-parser";
import type { RouteConfig } from "@asteasolutions/zod-to-openapi";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { documentedRoutes, openApiDocument } from "../../lib/docs/openapi.js";
import { SummaryResponse } from "../../lib/reports/schemas.js";

interface Example {
  where: string;
  schema: z.ZodType;
  example: unknown;
}

/** Every example the routes declare, next to the zod schema it illustrates. */
function examplesOf(route: RouteConfig): Example[] {
  const at = `${route.method.toUpperCase()} ${route.path}`;
  const found: Example[] = [];
  const fromContent = (where: string, content: Record<string, unknown> | undefined) => {
    for (const [mediaType, media] of Object.entries(content ?? {})) {
      const { schema, example } = media as { schema?: unknown; example?: unknown };
      if (example !== undefined && schema instanceof z.ZodType) found.push({ where: `${where} ${mediaType}`, schema, example });
    }
  };
  fromContent(`${at} request`, route.request?.body?.content);
  for (const [status, response] of Object.entries(route.responses)) {
    if ("$ref" in response) continue;
    fromContent(`${at} ${status}`, response.content);
    if (response.headers instanceof z.ZodObject) {
      for (const [name, header] of Object.entries(response.headers.shape as Record<string, z.ZodType>)) {
        const example = z.globalRegistry.get(header)?.example;
        if (example !== undefined) found.push({ where: `${at} ${status} header ${name}`, schema: header, example });
      }
    }
  }
  return found;
}

/** How many "example" keys the generated JSON holds, wherever they are. */
function countExamples(value: unknown): number {
  if (Array.isArray(value)) return value.reduce((sum: number, item) => sum + countExamples(item), 0);
  if (value === null || typeof value !== "object") return 0;
  let count = 0;
  for (const [key, child] of Object.entries(value)) {
    if (key === "example") count += 1;
    else if (key === "examples") throw new Error("`examples` maps are not checked by this test; use `example`");
    else count += countExamples(child);
  }
  return count;
}

const cents = (amount: string) => BigInt(amount.replace(".", ""));

describe("the OpenAPI document", () => {
  it("validates as OpenAPI 3.1", async () => {
    const document = openApiDocument();
    expect(document.openapi).toBe("3.1.0");
    // validate() dereferences in place: give it a copy.
    const validated = (await SwaggerParser.validate(structuredClone(document) as never)) as { openapi?: string };
    expect(validated.openapi).toBe("3.1.0");
  });

  it("declares the x-api-key header scheme, required on API routes but not on the docs", () => {
    const document = openApiDocument();
    expect(document.components?.securitySchemes?.ApiKey).toMatchObject({ type: "apiKey", in: "header", name: "x-api-key" });
    expect(document.security).toEqual([{ ApiKey: [] }]);
    expect(document.paths?.["/openapi.json"]?.get?.security).toEqual([]);
    expect(document.paths?.["/docs"]?.get?.security).toEqual([]);
    expect(document.paths?.["/transaction"]?.post?.security).toBeUndefined();
  });

  it("points servers at the base path it is given", () => {
    expect(openApiDocument().servers).toEqual([{ url: "/" }]);
    expect(openApiDocument("/dev").servers).toEqual([{ url: "/dev" }]);
  });

  const examples = documentedRoutes.flatMap(examplesOf);

  it("has an example for every request body and every JSON response, and checks all of them", () => {
    expect(examples.length).toBeGreaterThan(20);
    // Any example the walk above misses (schema-level, parameter-level) would make these differ.
    expect(countExamples(openApiDocument())).toBe(examples.length);
  });

  it.each(examples.map((example) => [example.where, example] as const))("example of %s passes its zod schema", (_, example) => {
    const parsed = example.schema.safeParse(example.example);
    expect(parsed.error?.issues ?? []).toEqual([]);
  });

  it("has a summary example whose parts add up to its totals", () => {
    const response = openApiDocument().paths?.["/reports/summary"]?.get?.responses?.["200"];
    const example = SummaryResponse.parse(response?.content?.["application/json"]?.example);
    for (const parts of [example.byType, example.byStatus, example.byStep]) {
      expect(parts.reduce((sum, part) => sum + part.count, 0)).toBe(example.count);
      expect(parts.reduce((sum, part) => sum + cents(part.amount), 0n)).toBe(cents(example.amount));
    }
  });
});

describe("the document's version", () => {
  it("is the package's version", async () => {
    const { default: packageJson } = await import("../../package.json", { with: { type: "json" } });
    expect(openApiDocument("/").info.version).toBe(packageJson.version);
  });
});
