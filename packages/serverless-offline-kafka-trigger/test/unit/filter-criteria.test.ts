import { describe, expect, it } from "vitest";
import { compileFilterPattern, FilterPatternError, matchesAny } from "../../src/filter-criteria.js";

const payment = {
  type: "PAYMENT",
  amount: 181.5,
  nameOrig: "C1305486145",
  isFraud: 0,
  tags: ["a", "b"],
  meta: { source: "api", retries: null },
  empty: "",
};
const value = (json: unknown) => Buffer.from(JSON.stringify(json));
const matches = (pattern: unknown, record: unknown = payment) =>
  matchesAny([compileFilterPattern("p", pattern)], typeof record === "string" ? Buffer.from(record) : value(record));

describe("Lambda filter patterns over a Kafka record's value", () => {
  it.each([
    [{ value: { type: ["PAYMENT"] } }, true],
    [{ value: { type: ["TRANSFER", "PAYMENT"] } }, true],
    [{ value: { type: ["TRANSFER"] } }, false],
    [{ value: { type: [{ "equals-ignore-case": "payment" }] } }, true],
    [{ value: { nameOrig: [{ prefix: "C13" }] } }, true],
    [{ value: { nameOrig: [{ suffix: "145" }] } }, true],
    [{ value: { nameOrig: [{ prefix: "M" }] } }, false],
    [{ value: { type: [{ "anything-but": ["TRANSFER", "CASH_OUT"] }] } }, true],
    [{ value: { type: [{ "anything-but": "PAYMENT" }] } }, false],
    [{ value: { type: [{ "anything-but": { prefix: "PAY" } }] } }, false],
    [{ value: { amount: [{ numeric: [">", 100, "<=", 181.5] }] } }, true],
    [{ value: { amount: [{ numeric: ["=", 181.5] }] } }, true],
    [{ value: { amount: [{ numeric: ["<", 100] }] } }, false],
    [{ value: { isFraud: [0] } }, true],
    [{ value: { isFraud: [1] } }, false],
    [{ value: { missing: [{ exists: false }] } }, true],
    [{ value: { missing: [{ exists: true }] } }, false],
    [{ value: { type: [{ exists: true }] } }, true],
    [{ value: { meta: { source: ["api"], retries: [null] } } }, true],
    [{ value: { empty: [""] } }, true],
    [{ value: { tags: ["b"] } }, true],
    [{ value: { type: ["PAYMENT"], isFraud: [1] } }, false],
    [{ value: { $or: [{ type: ["TRANSFER"] }, { isFraud: [0] }] } }, true],
    [{ value: { $or: [{ type: ["TRANSFER"] }, { isFraud: [1] }] } }, false],
  ])("%j -> %s", (pattern, expected) => {
    expect(matches(pattern)).toBe(expected);
  });

  it("matches a plain-text value as a whole string", () => {
    expect(matches({ value: [{ prefix: "INFO" }] }, "INFO all good")).toBe(true);
    expect(matches({ value: [{ prefix: "INFO" }] }, "ERROR")).toBe(false);
    expect(matches({ value: { type: ["PAYMENT"] } }, "not json")).toBe(false);
  });

  it("delivers a record when any filter matches, and every record without filters", () => {
    const filters = [
      compileFilterPattern("a", { value: { type: ["X"] } }),
      compileFilterPattern("b", { value: { type: ["PAYMENT"] } }),
    ];
    expect(matchesAny(filters, value(payment))).toBe(true);
    expect(matchesAny(filters, value({ type: "Y" }))).toBe(false);
    expect(matchesAny([], value({ type: "Y" }))).toBe(true);
  });

  it("reads a FilterCriteria Pattern string too", () => {
    expect(matchesAny([compileFilterPattern("p", '{"value":{"type":["PAYMENT"]}}')], value(payment))).toBe(true);
  });

  it.each([
    [{ value: { type: [] } }, /empty list matches nothing/],
    [{ value: { type: "PAYMENT" } }, /expects a list of conditions or an object/],
    [{ value: { type: [{ prefix: 1 }] } }, /expects a string/],
    [{ value: { amount: [{ numeric: [">"] }] } }, /numeric expects/],
    [{ value: { $or: [{ a: ["x"] }] } }, /at least two patterns/],
    [{ partition: [0] }, /filter on "value" only/],
    ["{not json", /is not JSON/],
  ])("refuses %j", (pattern, message) => {
    expect(() => compileFilterPattern("p", pattern)).toThrow(FilterPatternError);
    expect(() => compileFilterPattern("p", pattern)).toThrow(message);
  });
});
