import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../lib/errors.js";
import { problemOf } from "../../lib/http/problem.js";
import { decodeCursor, encodeCursor, parseReportsQuery, parseTransactionId } from "../../lib/reports/list.js";

describe("cursors", () => {
  it("round-trip a (receivedAt, id) position and reject anything else", () => {
    const position = { receivedAt: "2026-01-02T03:04:05.678Z", id: "01a20ec1-83c7-7138-8b86-03620842374a" };
    const cursor = encodeCursor(position);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor)).toEqual(position);
    expect(decodeCursor("not-a-cursor")).toBeUndefined();
    expect(decodeCursor(Buffer.from('["yesterday","x"]').toString("base64url"))).toBeUndefined();
  });
});

describe("parseReportsQuery", () => {
  it("defaults the limit to 100 and converts the filters", () => {
    expect(parseReportsQuery(null)).toEqual({ limit: 100 });
    expect(parseReportsQuery({ limit: "1000", status: "Completed", type: "CASH_OUT", isFraud: "false", nameOrig: "C1" })).toEqual(
      {
        limit: 1000,
        status: "Completed",
        type: "CASH_OUT",
        isFraud: false,
        nameOrig: "C1",
      },
    );
  });

  it.each([
    [{ limit: "0" }, "limit"],
    [{ limit: "1001" }, "limit"],
    [{ limit: "2.5" }, "limit"],
    [{ status: "Accepted" }, "status"],
    [{ isFraud: "1" }, "isFraud"],
    [{ cursor: "abc" }, "cursor"],
    [{ sort: "asc" }, "sort"],
  ])("rejects %o with 400 naming %s", (query, field) => {
    try {
      parseReportsQuery(query);
      throw new Error("expected InvalidInputError");
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidInputError);
      expect(problemOf(error).status).toBe(400);
      expect((error as InvalidInputError).issues?.map((issue) => issue.field)).toEqual([field]);
    }
  });
});

describe("asOf", () => {
  it("accepts an ISO instant with Z or an offset, and keeps it as written", () => {
    expect(parseReportsQuery({ asOf: "2025-06-18T10:00:00Z" })).toEqual({ limit: 100, asOf: "2025-06-18T10:00:00Z" });
    expect(parseReportsQuery({ asOf: "2025-06-18T12:00:00.123+02:00" }).asOf).toBe("2025-06-18T12:00:00.123+02:00");
  });

  it.each(["2025-06-18", "2025-06-18T10:00:00", "0000-01-01T00:00:00Z", "2025-02-30T00:00:00Z", "now"])(
    "rejects %s with 400 naming asOf",
    (asOf) => {
      expect(() => parseReportsQuery({ asOf })).toThrow(InvalidInputError);
      try {
        parseReportsQuery({ asOf });
      } catch (error) {
        expect(new Set((error as InvalidInputError).issues.map((issue) => issue.field))).toEqual(new Set(["asOf"]));
      }
    },
  );
});

describe("parseTransactionId", () => {
  it("accepts a UUID in either case and rejects anything else with 400", () => {
    expect(parseTransactionId("01A20EC1-83C7-7138-8B86-03620842374A")).toBe("01a20ec1-83c7-7138-8b86-03620842374a");
    expect(() => parseTransactionId("42")).toThrow(InvalidInputError);
    expect(() => parseTransactionId(undefined)).toThrow(InvalidInputError);
  });
});

describe("a crafted cursor", () => {
  const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  it.each([
    ["year 0000", ["0000-01-01T00:00:00Z", "0190b2c4-5d6e-7f80-9123-456789abcdef"]],
    ["February 30", ["2024-02-30T00:00:00Z", "0190b2c4-5d6e-7f80-9123-456789abcdef"]],
    ["year 275760", ["+275760-09-13T00:00:00Z", "0190b2c4-5d6e-7f80-9123-456789abcdef"]],
  ])("with %s is a 400 naming cursor, never a database error", (_case, position) => {
    expect(decodeCursor(cursorOf(position))).toBeUndefined();
    try {
      parseReportsQuery({ cursor: cursorOf(position) });
      throw new Error("expected InvalidInputError");
    } catch (error) {
      expect(problemOf(error).status).toBe(400);
      expect((error as InvalidInputError).issues.map((issue) => issue.field)).toEqual(["cursor"]);
    }
  });

  it("longer than any cursor this API writes is refused before it is decoded", () => {
    expect(decodeCursor("A".repeat(10_000))).toBeUndefined();
  });
});
