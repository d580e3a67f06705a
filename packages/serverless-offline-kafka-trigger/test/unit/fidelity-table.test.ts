import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * The README's fidelity table, read as a reviewer would: every row names at least one test file that exists,
 * and every test title it quotes is in that file ("..." stands for any text). A row whose test is renamed or
 * deleted fails here.
 */
const PACKAGE = resolve(import.meta.dirname, "../..");
/** "(repo)" rows: paths from the root of the repository the package lives in. */
const REPOSITORY = resolve(PACKAGE, "../..");

interface Reference {
  file: string;
  titles: string[];
}

function rows(readme: string): { behaviour: string; tests: string }[] {
  const table = readme.slice(readme.indexOf("## Fidelity table"));
  return table
    .split("\n")
    .filter((line) => line.startsWith("| ") && !line.startsWith("| Behaviour"))
    .map((line) => {
      const cells = line.split(" | ");
      return { behaviour: (cells[0] ?? "").slice(2), tests: cells.slice(1).join(" | ").replace(/ \|$/, "") };
    });
}

/** `path` or (repo) `path`, each optionally followed by ("title", "title"). */
function references(tests: string): Reference[] {
  const found: Reference[] = [];
  const pattern = /(\(repo\) )?`([^`]+\.test\.ts)`(?: \(((?:"[^"]*"(?:, )?)+)(?:, and [^)]*)?\))?/g;
  for (const match of tests.matchAll(pattern)) {
    const file = resolve(match[1] ? REPOSITORY : PACKAGE, match[2] as string);
    const titles = [...(match[3] ?? "").matchAll(/"([^"]*)"/g)].map((title) => title[1] as string);
    found.push({ file, titles });
  }
  return found;
}

/** A quoted title as a pattern: "..." is any text. */
function titlePattern(title: string): RegExp {
  const parts = title.split("...").map((part) => part.trim().replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(parts.filter(Boolean).join("[\\s\\S]*?"));
}

describe("the README's fidelity table", () => {
  const table = rows(readFileSync(resolve(PACKAGE, "README.md"), "utf8"));

  it("has rows", () => {
    expect(table.length).toBeGreaterThan(20);
  });

  it.each(table.map(({ behaviour, tests }) => [behaviour, tests]))("%s", (_, tests) => {
    const named = references(tests);
    expect(named.length, `no test named in: ${tests}`).toBeGreaterThan(0);
    for (const { file, titles } of named) {
      expect(existsSync(file), file).toBe(true);
      const text = readFileSync(file, "utf8");
      for (const title of titles) expect(titlePattern(title).test(text), `${file}: "${title}"`).toBe(true);
    }
  });

  it("reads a row's references, and a title that is not in the file fails (the check itself can fail)", () => {
    const [reference] = references('`test/unit/fidelity-table.test.ts` ("has rows", "no such ... test")');
    expect(reference?.titles).toEqual(["has rows", "no such ... test"]);
    const text = 'it("keeps each partition in order (offsets) while a second poller joins", async () => {';
    expect(titlePattern("keeps each partition in order (offsets) while").test(text)).toBe(true);
    expect(titlePattern("keeps each partition ... a second poller joins").test(text)).toBe(true);
    expect(titlePattern("keeps every partition").test(text)).toBe(false);
    expect(titlePattern("a second poller ... keeps").test(text)).toBe(false);
  });
});
