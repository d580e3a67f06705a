import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { PAYSIM_SAMPLE } from "../support/sample.js";

const ROOT = resolve(import.meta.dirname, "../..");

/** A path that only exists on one machine: a home or work directory, or a folder beside the checkout. */
const MACHINE_PATH = /(?<![\w.])\/(?:work|home|root|Users)\/|\.\.\/shared\//;

describe("the repository is self-contained", () => {
  it("no tracked file names a path of one machine or a folder beside the checkout", () => {
    const files = execFileSync("git", ["ls-files", "-z"], { cwd: ROOT, encoding: "utf8" }).split("\0").filter(Boolean);
    expect(files.length).toBeGreaterThan(100);
    const offending = files.flatMap((file) => {
      const text = readFileSync(join(ROOT, file));
      // Binary files (images) cannot hold a path anyone reads.
      if (text.includes(0)) return [];
      return text
        .toString("utf8")
        .split("\n")
        .flatMap((line, index) => (MACHINE_PATH.test(line) ? [`${file}:${index + 1}: ${line.trim()}`] : []));
    });
    expect(offending).toEqual([]);
  });

  it("holds the PaySim sample its README describes: 41,371 rows, the documented sha256", () => {
    const bytes = readFileSync(PAYSIM_SAMPLE);
    const readme = readFileSync(join(ROOT, "data/README.md"), "utf8");
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    expect(readme).toContain(`\`${sha256}\``);
    expect(readme).toContain("CC BY-SA 4.0");
    // Header + 41,371 rows, each ending in LF.
    expect(bytes.toString("utf8").split("\n")).toHaveLength(41_373);
  });
});
