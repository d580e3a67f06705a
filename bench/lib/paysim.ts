import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse } from "csv-parse/sync";
import type { TransactionInput } from "../../lib/transaction.js";

/** The real PaySim sample in the repository (data/README.md); override with --data. */
export const DEFAULT_PAYSIM_CSV = resolve(import.meta.dirname, "../../data/paysim-sample.csv");

type CsvRecord = Record<string, string>;

/**
 * The CSV rows as API request bodies, the way a client sends them: money as the CSV's decimal text
 * (exact, E-notation included), step and flags as numbers.
 */
export function paysimBodies(path = DEFAULT_PAYSIM_CSV, limit = Number.POSITIVE_INFINITY): TransactionInput[] {
  const records = parse(readFileSync(path), {
    columns: true,
    skip_empty_lines: true,
    ...(Number.isFinite(limit) ? { to: limit } : {}),
  }) as CsvRecord[];
  return records.map((record) => toBody(record));
}

export function toBody(record: CsvRecord): TransactionInput {
  const field = (name: string) => {
    const value = record[name];
    if (value === undefined) throw new Error(`PaySim row without column ${name}`);
    return value;
  };
  return {
    step: Number(field("step")),
    type: field("type") as TransactionInput["type"],
    amount: field("amount"),
    nameOrig: field("nameOrig"),
    oldbalanceOrg: field("oldbalanceOrg"),
    newbalanceOrig: field("newbalanceOrig"),
    nameDest: field("nameDest"),
    oldbalanceDest: field("oldbalanceDest"),
    newbalanceDest: field("newbalanceDest"),
    isFraud: Number(field("isFraud")) as 0 | 1,
    isFlaggedFraud: Number(field("isFlaggedFraud")) as 0 | 1,
  };
}

/** `count` items taken round-robin from `items` (the sample has 41,371 rows; stage 4 needs 200,000). */
export function cycle<T>(items: readonly T[], count: number): T[] {
  if (!items.length) throw new Error("nothing to cycle through");
  return Array.from({ length: count }, (_, i) => items[i % items.length] as T);
}
