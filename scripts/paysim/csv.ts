import { createReadStream } from "node:fs";
import { CsvError, parse } from "csv-parse";
import { type Transaction, TransactionInput } from "../../lib/transaction.js";
import { PAYSIM_COLUMNS, PAYSIM_HEADER } from "./generator.js";

/** A PaySim file that cannot be read or has a bad line; the message names the file, the line and the reason. */
export class PaysimFileError extends Error {
  override name = "PaysimFileError";
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}${line === undefined ? "" : `:${line}`}: ${reason}`, options);
  }
}

export interface PaysimRow {
  /** 1-based line number in the file (the header is line 1). */
  line: number;
  /** The line as written, without its line break. */
  raw: string;
  /** The 11 fields as written ("1.916920493E7" stays so). */
  fields: string[];
  transaction: Transaction;
}

const STEP = /^\d{1,7}$/;
const FLAG = /^[01]$/;

/**
 * The JSON body for one CSV record: the file's own strings for money (E-notation included, so the
 * API's decimal parsing is exercised), numbers for step and flags. Used by the seed's parser below
 * and by `npm run simulate` for what it posts.
 */
export function paysimBody(fields: readonly string[]): Record<string, string | number> {
  const [
    step,
    type,
    amount,
    nameOrig,
    oldbalanceOrg,
    newbalanceOrig,
    nameDest,
    oldbalanceDest,
    newbalanceDest,
    isFraud,
    isFlagged,
  ] = fields as string[];
  return {
    step: Number(step),
    type: type as string,
    amount: amount as string,
    nameOrig: nameOrig as string,
    oldbalanceOrg: oldbalanceOrg as string,
    newbalanceOrig: newbalanceOrig as string,
    nameDest: nameDest as string,
    oldbalanceDest: oldbalanceDest as string,
    newbalanceDest: newbalanceDest as string,
    isFraud: Number(isFraud),
    isFlaggedFraud: Number(isFlagged),
  };
}

/**
 * Turns one CSV record (11 strings) into a validated transaction via lib/transaction.ts, or returns
 * the reason it is not one. Money stays a string all the way, so "1.916920493E7" becomes exactly
 * "19169204.93".
 */
export function parsePaysimRecord(fields: readonly string[]): { transaction: Transaction } | { reason: string } {
  if (fields.length !== PAYSIM_COLUMNS.length)
    return { reason: `expected ${PAYSIM_COLUMNS.length} fields, got ${fields.length}` };
  const [step, , , , , , , , , isFraud, isFlagged] = fields;
  // Number("") is 0 and Number("1.5") is not an integer: check the text before it becomes a number.
  if (!STEP.test(step as string)) return { reason: `step: not a whole number (${JSON.stringify(step)})` };
  if (!FLAG.test(isFraud as string)) return { reason: `isFraud: expected 0 or 1 (${JSON.stringify(isFraud)})` };
  if (!FLAG.test(isFlagged as string)) return { reason: `isFlaggedFraud: expected 0 or 1 (${JSON.stringify(isFlagged)})` };
  const parsed = TransactionInput.safeParse(paysimBody(fields));
  if (!parsed.success) {
    return { reason: parsed.error.issues.map((issue) => `${issue.path.join(".") || "row"}: ${issue.message}`).join("; ") };
  }
  return { transaction: parsed.data };
}

/**
 * Streams a PaySim CSV, validating every row; never holds more than csv-parse's buffer. Throws
 * PaysimFileError for a missing file, a wrong header or a bad row (with its line number).
 * Stops reading after `limit` rows.
 */
export async function* readPaysimCsv(file: string, options: { limit?: number } = {}): AsyncGenerator<PaysimRow> {
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  if (limit <= 0) return;
  const source = createReadStream(file);
  const parser = source.pipe(parse({ info: true, raw: true, relax_column_count: true, skip_empty_lines: true, bom: true }));
  // A read error (ENOENT, EACCES) is not forwarded by pipe(); forward it so the loop below throws.
  source.on("error", (error) => parser.destroy(error));
  let rows = 0;
  let sawHeader = false;
  try {
    for await (const record of parser as AsyncIterable<{ record: string[]; raw: string; info: { lines: number } }>) {
      const line = record.info.lines;
      if (line === 1) {
        if (record.record.join(",") !== PAYSIM_HEADER)
          throw new PaysimFileError(file, line, `expected the header "${PAYSIM_HEADER}"`);
        sawHeader = true;
        continue;
      }
      const result = parsePaysimRecord(record.record);
      if ("reason" in result) throw new PaysimFileError(file, line, result.reason);
      yield { line, raw: record.raw.replace(/\r?\n$/, ""), fields: record.record, transaction: result.transaction };
      if (++rows >= limit) return;
    }
    if (!sawHeader) throw new PaysimFileError(file, 1, `empty file: expected the header "${PAYSIM_HEADER}"`);
  } catch (error) {
    if (error instanceof PaysimFileError) throw error;
    if (error instanceof CsvError)
      throw new PaysimFileError(file, Number(error.lines) || undefined, error.message, { cause: error });
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new PaysimFileError(file, undefined, "no such file", { cause: error });
    throw new PaysimFileError(file, undefined, `cannot read: ${(error as Error).message}`, { cause: error });
  } finally {
    source.destroy();
  }
}
