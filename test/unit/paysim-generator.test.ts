import { describe, expect, it } from "vitest";
import { toPlainDecimal } from "../../lib/money.js";
import type { TransactionType } from "../../lib/transaction.js";
import { parsePaysimRecord } from "../../scripts/paysim/csv.js";
import { centsToDecimal, type GeneratedRow, generatePaysimRows, toCsvLine } from "../../scripts/paysim/generator.js";
import { SAMPLE_ROWS_PER_HOUR } from "../../scripts/paysim/model.js";

/**
 * The generated data against the figures documented for the real sample
 * (data/README.md, "Facts about this sample"), for a file of the sample's size.
 */
const ROWS = 41_371;
const rows: GeneratedRow[] = [...generatePaysimRows({ rows: ROWS, seed: 20_170_101 })];
const lines = rows.map(toCsvLine);

const share = (predicate: (row: GeneratedRow) => boolean, of: GeneratedRow[] = rows) => of.filter(predicate).length / of.length;
const ofType = (type: TransactionType) => rows.filter((row) => row.type === type);
function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

describe("PaySim generator", () => {
  it("is reproducible: the same seed gives the same rows, another seed other rows", () => {
    const again = [...generatePaysimRows({ rows: 1_000, seed: 20_170_101 })].map(toCsvLine);
    expect(again).toEqual(lines.slice(0, 1_000));
    const other = [...generatePaysimRows({ rows: 1_000, seed: 2 })].map(toCsvLine);
    expect(other).not.toEqual(again);
    expect(rows).toHaveLength(ROWS);
  });

  it("follows the sample's type mix within 1 percentage point", () => {
    const documented: Record<TransactionType, number> = {
      PAYMENT: 0.4592,
      CASH_OUT: 0.2511,
      CASH_IN: 0.1823,
      TRANSFER: 0.0933,
      DEBIT: 0.0141,
    };
    for (const [type, expected] of Object.entries(documented)) {
      expect(Math.abs(share((row) => row.type === type) - expected), type).toBeLessThan(0.01);
    }
  });

  it("puts fraud only in TRANSFER (about 1.19%) and CASH_OUT (about 0.46%), flags none", () => {
    const fraudTypes = new Set(rows.filter((row) => row.isFraud).map((row) => row.type));
    expect([...fraudTypes].sort()).toEqual(["CASH_OUT", "TRANSFER"]);
    expect(Math.abs(share((row) => row.isFraud, ofType("TRANSFER")) - 0.0119)).toBeLessThan(0.005);
    expect(Math.abs(share((row) => row.isFraud, ofType("CASH_OUT")) - 0.0046)).toBeLessThan(0.0025);
    expect(rows.some((row) => row.isFlaggedFraud)).toBe(false);
  });

  it("spreads amounts like the sample: median 27,190.50, p99 1,624,591.95, at most 10,000,000, 2 decimals", () => {
    const amounts = rows.map((row) => row.amount / 100);
    expect(quantile(amounts, 0.5)).toBeGreaterThan(27_190.5 * 0.9);
    expect(quantile(amounts, 0.5)).toBeLessThan(27_190.5 * 1.1);
    expect(quantile(amounts, 0.99)).toBeGreaterThan(1_624_591.95 * 0.85);
    expect(quantile(amounts, 0.99)).toBeLessThan(1_624_591.95 * 1.15);
    expect(Math.max(...amounts)).toBeLessThanOrEqual(10_000_000);
    expect(Math.min(...rows.map((row) => row.amount))).toBeGreaterThan(0);
    // Per-type medians (sample: PAYMENT 7,093.32; TRANSFER 512,829.60; CASH_OUT 150,472.54; CASH_IN 140,722.86)
    const medians: [TransactionType, number][] = [
      ["PAYMENT", 7_093.32],
      ["TRANSFER", 512_829.6],
      ["CASH_OUT", 150_472.54],
      ["CASH_IN", 140_722.86],
    ];
    for (const [type, median] of medians) {
      const actual = quantile(
        ofType(type).map((row) => row.amount / 100),
        0.5,
      );
      expect(Math.abs(actual / median - 1), type).toBeLessThan(0.1);
    }
  });

  it("has PaySim's balance behaviour per type", () => {
    // Both origin balances zero: 12,259 of 41,371 rows (29.6%).
    expect(Math.abs(share((row) => row.oldbalanceOrg === 0 && row.newbalanceOrig === 0) - 0.2963)).toBeLessThan(0.02);
    // CASH_IN increases the origin balance; other types never do.
    expect(ofType("CASH_IN").every((row) => row.newbalanceOrig > row.oldbalanceOrg)).toBe(true);
    expect(rows.filter((row) => row.type !== "CASH_IN").every((row) => row.newbalanceOrig <= row.oldbalanceOrg)).toBe(true);
    // The type-aware rule disagrees in 2,858 rows (6.9%), by PaySim's float arithmetic.
    const disagrees = share((row) =>
      row.type === "CASH_IN"
        ? row.newbalanceOrig !== row.oldbalanceOrg + row.amount
        : row.newbalanceOrig !== Math.max(row.oldbalanceOrg - row.amount, 0),
    );
    expect(Math.abs(disagrees - 0.0691)).toBeLessThan(0.015);
    // M recipients: all PAYMENTs, destination balances 0.0.
    const merchants = rows.filter((row) => row.nameDest.startsWith("M"));
    expect(merchants).toEqual(ofType("PAYMENT"));
    expect(merchants.every((row) => row.oldbalanceDest === 0 && row.newbalanceDest === 0)).toBe(true);
    // C recipients: old + amount != new (reversed for CASH_IN) in 18,341 of 22,372 rows (82%).
    const customers = rows.filter((row) => row.nameDest.startsWith("C"));
    const unreconciled = share(
      (row) => row.newbalanceDest !== row.oldbalanceDest + (row.type === "CASH_IN" ? -row.amount : row.amount),
      customers,
    );
    expect(Math.abs(unreconciled - 0.8198)).toBeLessThan(0.03);
  });

  it("uses C/M ids of PaySim's shape and reuses C recipients (5,109 distinct of 22,372)", () => {
    expect(rows.every((row) => /^C\d{1,10}$/.test(row.nameOrig) && /^[CM]\d{1,10}$/.test(row.nameDest))).toBe(true);
    const customers = rows.filter((row) => row.nameDest.startsWith("C"));
    const distinct = new Set(customers.map((row) => row.nameDest)).size / customers.length;
    expect(Math.abs(distinct - 5_109 / 22_372)).toBeLessThan(0.03);
  });

  it("counts steps as hours with the sample's volume per hour", () => {
    const perStep = new Map<number, number>();
    for (const row of rows) perStep.set(row.step, (perStep.get(row.step) ?? 0) + 1);
    const steps = [...perStep.keys()];
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    expect(steps[0]).toBe(1);
    const first8 = SAMPLE_ROWS_PER_HOUR.reduce((sum, count) => sum + count, 0);
    const generated8 = steps.slice(0, 8).reduce((sum, step) => sum + (perStep.get(step) ?? 0), 0);
    SAMPLE_ROWS_PER_HOUR.forEach((count, hour) => {
      expect(Math.abs((perStep.get(hour + 1) ?? 0) / generated8 - count / first8)).toBeLessThan(0.002);
    });
  });

  it("writes lines in PaySim's format that parse back to exactly the generated values", () => {
    const eNotationRows = lines.filter((line) => /\dE\d/.test(line)).length / lines.length;
    expect(Math.abs(eNotationRows - 1_826 / 41_371)).toBeLessThan(0.015);
    lines.forEach((line, index) => {
      const row = rows[index] as GeneratedRow;
      expect(line).toMatch(/^\d+,[A-Z_]+,(\d+\.\d+(E\d+)?,){1}C\d+,(\d+\.\d+(E\d+)?,){2}[CM]\d+,(\d+\.\d+(E\d+)?,){2}[01],[01]$/);
      const parsed = parsePaysimRecord(line.split(","));
      if (!("transaction" in parsed)) throw new Error(`line ${index + 2}: ${parsed.reason}`);
      expect(parsed.transaction.amount).toBe(toPlainDecimal(centsToDecimal(row.amount)));
      expect(parsed.transaction.newbalanceDest).toBe(toPlainDecimal(centsToDecimal(row.newbalanceDest)));
    });
  });
});
