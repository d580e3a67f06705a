import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { toPlainDecimal } from "../../lib/money.js";
import { centsToDecimal } from "../../scripts/paysim/generator.js";
import { formatJavaDouble } from "../../scripts/paysim/java-double.js";
import { PAYSIM_SAMPLE } from "../support/sample.js";

const SAMPLE = PAYSIM_SAMPLE;
const MONEY_COLUMNS = [2, 4, 5, 7, 8];

describe("formatJavaDouble", () => {
  it.each([
    ["0", "0.0"],
    ["170136", "170136.0"],
    ["9839.64", "9839.64"],
    ["181.00", "181.0"],
    ["19169204.93", "1.916920493E7"],
    ["10000000", "1.0E7"],
    ["9999999.99", "9999999.99"],
    ["28547237.16", "2.854723716E7"],
    ["120000000", "1.2E8"],
    ["0.01", "0.01"],
    ["0.001", "0.001"],
    ["0.0001", "1.0E-4"],
    ["-10000000.5", "-1.00000005E7"],
  ])("formats %s as Java prints it: %s", (plain, java) => {
    expect(formatJavaDouble(plain)).toBe(java);
  });

  it("reproduces every money value of the real sample byte for byte", () => {
    const lines = readFileSync(SAMPLE, "utf8").trimEnd().split("\n").slice(1);
    expect(lines).toHaveLength(41_371);
    let checked = 0;
    let eNotation = 0;
    const mismatches: string[] = [];
    for (const line of lines) {
      const fields = line.split(",");
      for (const column of MONEY_COLUMNS) {
        const original = fields[column] as string;
        const formatted = formatJavaDouble(toPlainDecimal(original));
        if (formatted !== original) mismatches.push(`${original} -> ${formatted}`);
        if (original.includes("E")) eNotation++;
        checked++;
      }
    }
    expect(mismatches.slice(0, 5)).toEqual([]);
    expect(checked).toBe(41_371 * 5);
    expect(eNotation).toBeGreaterThan(1_826); // rows with at least one, so fields are at least as many
  });
});

describe("centsToDecimal", () => {
  it.each([
    [0, "0.00"],
    [5, "0.05"],
    [1_916_920_493, "19169204.93"],
    [1_000_000_000, "10000000.00"],
  ])("%i cents is %s", (cents, text) => {
    expect(centsToDecimal(cents)).toBe(text);
  });
});
