import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import type pg from "pg";
import { toPlainDecimal } from "../../lib/money.js";

/** A stored transaction with every column as PostgreSQL prints it (NUMERIC as text, never a JS number). */
export interface StoredText {
  id: string;
  step: number;
  type: string;
  amount: string;
  name_orig: string;
  old_balance_orig: string;
  new_balance_orig: string;
  name_dest: string;
  old_balance_dest: string;
  new_balance_dest: string;
  is_fraud: boolean;
  is_flagged_fraud: boolean;
  status: string;
}

export async function storedRows(pool: pg.Pool, where = "true", params: unknown[] = []): Promise<StoredText[]> {
  const { rows } = await pool.query<StoredText>(
    `select id, step, type, amount::text, name_orig, old_balance_orig::text, new_balance_orig::text, name_dest,
            old_balance_dest::text, new_balance_dest::text, is_fraud, is_flagged_fraud, status
       from transactions where ${where}`,
    params,
  );
  return rows;
}

/** The data lines of a CSV file, split on commas (PaySim has no quoting), with their 1-based line numbers. */
export async function* csvLines(
  file: string,
  limit = Number.POSITIVE_INFINITY,
): AsyncGenerator<{ line: number; raw: string; fields: string[] }> {
  let line = 0;
  for await (const raw of createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY })) {
    line++;
    if (line === 1 || raw === "") continue;
    if (line - 1 > limit) return;
    yield { line, raw, fields: raw.split(",") };
  }
}

/**
 * Differences between a CSV line and its stored row. Money is compared as exact decimals after
 * canonicalising both sides ("1.916920493E7" and "19169204.93" are equal; "170136.0" and "170136.00").
 */
export function differences(fields: string[], stored: StoredText): string[] {
  const [step, type, amount, nameOrig, oldOrig, newOrig, nameDest, oldDest, newDest, isFraud, isFlagged] = fields;
  const out: string[] = [];
  const same = (name: string, csv: unknown, db: unknown) => {
    if (csv !== db) out.push(`${name}: csv ${String(csv)} != stored ${String(db)}`);
  };
  const money = (name: string, csv: string | undefined, db: string) => same(name, toPlainDecimal(csv ?? ""), toPlainDecimal(db));
  same("step", Number(step), stored.step);
  same("type", type, stored.type);
  money("amount", amount, stored.amount);
  same("nameOrig", nameOrig, stored.name_orig);
  money("oldbalanceOrg", oldOrig, stored.old_balance_orig);
  money("newbalanceOrig", newOrig, stored.new_balance_orig);
  same("nameDest", nameDest, stored.name_dest);
  money("oldbalanceDest", oldDest, stored.old_balance_dest);
  money("newbalanceDest", newDest, stored.new_balance_dest);
  same("isFraud", isFraud === "1", stored.is_fraud);
  same("isFlaggedFraud", isFlagged === "1", stored.is_flagged_fraud);
  return out;
}
