import { parse } from "csv-parse/sync";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../lib/errors.js";
import { CSV_COLUMNS, CSV_HEADER, csvLine, MAX_CSV_ROWS, parseReportsRequest, textCell } from "../../lib/reports/csv.js";
import { type StoredTransaction, storedPaymentExample } from "../../lib/reports/schemas.js";

const parseCsv = (text: string): string[][] => parse(text, { relaxQuotes: false });

describe("textCell", () => {
  it.each([
    ['=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'],
    ["+1", "'+1"],
    ["-1", "'-1"],
    ["@SUM(A1)", "'@SUM(A1)"],
    ["\tcmd", "'\tcmd"],
    ["\rcmd", "'\rcmd"],
    ["C1231006815", "C1231006815"],
  ])("reads %j back as %j, never as a formula", (value, expected) => {
    expect(parseCsv(`${textCell(value)}\r\n`)).toEqual([[expected]]);
  });

  it("round-trips any text, prefixed only where a spreadsheet would see a formula", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme-ascii" }), (value) => {
        fc.pre(value.length > 0);
        const cell = textCell(value);
        const [[read]] = parseCsv(`${cell},x\r\n`) as [[string]];
        expect(read).toBe(/^[=+\-@\t\r]/.test(value) ? `'${value}` : value);
        expect(read).not.toMatch(/^[=+\-@\t\r]/);
      }),
    );
  });
});

describe("csvLine", () => {
  it("writes the stored row's columns in header order, money exact and unquoted", () => {
    const [header, row] = parseCsv(CSV_HEADER + csvLine(storedPaymentExample)) as [string[], string[]];
    expect(header).toEqual([...CSV_COLUMNS]);
    const record = Object.fromEntries(header.map((name, index) => [name, row[index]]));
    expect(record).toEqual({
      id: storedPaymentExample.id,
      step: "1",
      type: "PAYMENT",
      amount: "9839.64",
      nameOrig: "C1231006815",
      oldbalanceOrg: "170136.00",
      newbalanceOrig: "160296.36",
      nameDest: "M1979787155",
      oldbalanceDest: "0.00",
      newbalanceDest: "0.00",
      isFraud: "false",
      isFlaggedFraud: "false",
      status: "Completed",
      receivedAt: "2025-06-18T09:30:12.345Z",
      persistedAt: "2025-06-18T09:30:12.912Z",
      kafkaTopic: "transactions",
      kafkaPartition: "2",
      kafkaOffset: "1841",
    });
  });

  it("leaves the Kafka columns empty for a seeded row and prefixes a name a spreadsheet would evaluate", () => {
    const seeded: StoredTransaction = { ...storedPaymentExample, kafka: null, nameOrig: "-C1", amount: "9999999999999999.99" };
    const [row] = parseCsv(csvLine(seeded)) as [string[]];
    expect(row.slice(-3)).toEqual(["", "", ""]);
    expect(row[4]).toBe("'-C1");
    expect(row[3]).toBe("9999999999999999.99");
  });
});

describe("parseReportsRequest", () => {
  it("answers CSV for format=csv or Accept: text/csv, JSON otherwise, with the CSV row limit", () => {
    expect(parseReportsRequest({ format: "csv" }, undefined)).toEqual({
      format: "csv",
      query: { format: "csv", limit: MAX_CSV_ROWS },
    });
    expect(parseReportsRequest({}, "text/csv").format).toBe("csv");
    expect(parseReportsRequest({ format: "json" }, "text/csv").format).toBe("json");
    expect(parseReportsRequest({}, "application/json, */*").format).toBe("json");
    expect(parseReportsRequest({ limit: "20000" }, "text/csv").query.limit).toBe(20_000);
    expect(() => parseReportsRequest({ limit: "20000" }, undefined)).toThrow(InvalidInputError);
    expect(() => parseReportsRequest({ format: "xml" }, undefined)).toThrow(InvalidInputError);
  });
});
