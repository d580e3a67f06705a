import { describe, expect, it } from "vitest";
import { DecimalFormatError, toPlainDecimal } from "../../lib/money.js";

describe("toPlainDecimal", () => {
  it.each([
    ["181.0", "181"],
    ["1.916920493E7", "19169204.93"],
    ["1.0E7", "10000000"],
    ["0.0", "0"],
    ["9839.64", "9839.64"],
    ["  12.50 ", "12.5"],
    ["1e-2", "0.01"],
    ["-0.0", "0"],
    ["-12.30", "-12.3"],
    [".5", "0.5"],
    ["007", "7"],
    [19169204.93, "19169204.93"],
    [1e7, "10000000"],
    [0.1, "0.1"],
  ])("%s -> %s", (input, expected) => {
    expect(toPlainDecimal(input)).toBe(expected);
  });

  it.each(["", "abc", "1.2.3", "1e", "NaN", "Infinity", "0x10", "1e500", "."])("rejects %j", (input) => {
    expect(() => toPlainDecimal(input)).toThrow(DecimalFormatError);
  });

  it("rejects non-finite numbers", () => {
    expect(() => toPlainDecimal(Number.NaN)).toThrow(DecimalFormatError);
  });
});
