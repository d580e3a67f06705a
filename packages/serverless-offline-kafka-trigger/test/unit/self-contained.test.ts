import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * The package is a guest: its source imports only itself, Node's built-ins and its peers (kafkajs, the
 * aws-lambda types), never the repository it was born in. Read from the files, as a reviewer would.
 */
const PACKAGE = resolve(import.meta.dirname, "../..");
const ALLOWED = [/^node:/, /^kafkajs(\/|$)/, /^aws-lambda$/];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return /\.(ts|cjs|mjs|js)$/.test(entry.name) ? [path] : [];
  });
}

function specifiers(text: string): string[] {
  const found: string[] = [];
  const patterns = [
    /\bfrom\s+["']([^"']+)["']/g,
    /\bimport\s*\(\s*["']([^"']+)["']/g,
    /\brequire\s*\(\s*["']([^"']+)["']/g,
    /^import\s+["']([^"']+)["']/gm,
  ];
  for (const pattern of patterns) for (const match of text.matchAll(pattern)) found.push(match[1] as string);
  return found;
}

describe("the package imports nothing outside itself", () => {
  // This file quotes an outside import on purpose (the last test); every other file is checked.
  const files = [...sources(join(PACKAGE, "src")), ...sources(join(PACKAGE, "test")), join(PACKAGE, "plugin.cjs")].filter(
    (file) => file !== import.meta.filename,
  );

  it("finds its sources", () => {
    expect(files.length).toBeGreaterThan(20);
  });

  it.each(files.map((file) => [relative(PACKAGE, file), file]))("%s", (_, file) => {
    const outside = specifiers(readFileSync(file, "utf8")).filter((specifier) => {
      if (specifier.startsWith(".")) return relative(PACKAGE, resolve(dirname(file), specifier)).startsWith("..");
      return !ALLOWED.some((allowed) => allowed.test(specifier)) && !["vitest", "@types/aws-lambda"].includes(specifier);
    });
    expect(outside).toEqual([]);
  });

  it("sees an import that leaves the package (the check itself can fail)", () => {
    const text = 'import { config } from "../../../lib/config.js";\nconst x = await import("pg");';
    expect(specifiers(text)).toEqual(["../../../lib/config.js", "pg"]);
  });
});
