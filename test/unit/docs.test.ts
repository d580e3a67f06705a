import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const PAGES = [
  "README.md",
  ...readdirSync(join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
function anchorsOf(file: string): Set<string> {
  const headings = readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => /^#{1,6} /.test(line));
  return new Set(
    headings.map((line) =>
      line
        .replace(/^#+ /, "")
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N}_\- ]/gu, "")
        .replaceAll(" ", "-"),
    ),
  );
}

describe("README is a map and docs/ holds the depth", () => {
  it("README.md is at most 300 lines", () => {
    expect(readFileSync(join(ROOT, "README.md"), "utf8").split("\n").length).toBeLessThanOrEqual(300);
  });

  it("every relative link in README.md and docs/ names a file and heading that exist", () => {
    const broken: string[] = [];
    for (const page of PAGES) {
      const path = join(ROOT, page);
      for (const [, target = ""] of readFileSync(path, "utf8").matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target)) continue;
        const [file = "", anchor] = target.split("#");
        const resolved = file ? resolve(dirname(path), file) : path;
        if (!existsSync(resolved)) broken.push(`${page}: ${target} (no such file)`);
        else if (anchor && resolved.endsWith(".md") && !anchorsOf(resolved).has(anchor)) {
          broken.push(`${page}: ${target} (no heading #${anchor} in ${relative(ROOT, resolved)})`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it("README links every page in docs/", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const unlinked = PAGES.filter((page) => page.startsWith("docs/") && page !== "docs/README.md").filter(
      (page) => !readme.includes(`](${page})`),
    );
    expect(unlinked).toEqual([]);
  });
});
