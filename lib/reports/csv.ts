import { z } from "zod";
import type { Database } from "../db/client.js";
import { invalidInput } from "../validation.js";
import { encodeCursor, listTransactions, ReportsQuery } from "./list.js";
import type { StoredTransaction } from "./schemas.js";

/**
 * GET /reports as CSV. API Gateway's REST proxy and Lambda's buffered responses carry at most 6 MB and cannot
 * stream, so one response is a bounded export (at most MAX_CSV_ROWS rows and about MAX_CSV_BYTES), paged in
 * CSV_CHUNK_ROWS reads (each its own short statement on the read pool) and continued with the Next-Cursor header.
 * csvChunks() yields as it reads, so a streaming adapter can write each chunk as it comes.
 */
export const MAX_CSV_ROWS = 20_000;
export const CSV_CHUNK_ROWS = 1_000;
/** A chunk is added while the body is under this; a row is at most ~650 bytes, so a body stays under ~4.7 MB. */
export const MAX_CSV_BYTES = 4 * 1024 * 1024;
export const NEXT_CURSOR_HEADER = "Next-Cursor";
export const CSV_CONTENT_TYPE = "text/csv; charset=utf-8; header=present";

export const CSV_COLUMNS = [
  "id",
  "step",
  "type",
  "amount",
  "nameOrig",
  "oldbalanceOrg",
  "newbalanceOrig",
  "nameDest",
  "oldbalanceDest",
  "newbalanceDest",
  "isFraud",
  "isFlaggedFraud",
  "status",
  "receivedAt",
  "persistedAt",
  "kafkaTopic",
  "kafkaPartition",
  "kafkaOffset",
] as const;

/** GET /reports?format=csv: the same filters; `limit` counts the rows of this response. */
export const ReportsCsvQuery = ReportsQuery.extend({
  limit: z.coerce
    .number({ error: "expected an integer" })
    .int("expected an integer")
    .min(1, "at least 1")
    .max(MAX_CSV_ROWS, `at most ${MAX_CSV_ROWS}`)
    .default(MAX_CSV_ROWS),
});
export type ReportsCsvQuery = z.output<typeof ReportsCsvQuery>;

export type ReportsRequest = { format: "json"; query: ReportsQuery } | { format: "csv"; query: ReportsCsvQuery };

/** CSV when `format=csv`, or without `format` when the Accept header names text/csv; JSON otherwise. */
export function parseReportsRequest(
  query: Record<string, string | undefined> | null | undefined,
  accept: string | undefined,
): ReportsRequest {
  const wantsCsv = query?.format === "csv" || (query?.format === undefined && /\btext\/csv\b/i.test(accept ?? ""));
  const schema = wantsCsv ? ReportsCsvQuery : ReportsQuery;
  const parsed = schema.safeParse(query ?? {}, { reportInput: true });
  if (!parsed.success) throw invalidInput("query", parsed.error);
  return wantsCsv ? { format: "csv", query: parsed.data } : { format: "json", query: parsed.data };
}

/**
 * A text cell safe to open in a spreadsheet (OWASP CSV injection): one starting with = + - @ tab or CR gets a
 * leading single quote, so it is never read as a formula; then RFC 4180 quoting when it holds , " CR or LF.
 */
export function textCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/** One row. Money and the other numbers are written as stored (never negative, never prefixed): exact decimals. */
export function csvLine(row: StoredTransaction): string {
  return [
    row.id,
    String(row.step),
    row.type,
    row.amount,
    textCell(row.nameOrig),
    row.oldbalanceOrg,
    row.newbalanceOrig,
    textCell(row.nameDest),
    row.oldbalanceDest,
    row.newbalanceDest,
    String(row.isFraud),
    String(row.isFlaggedFraud),
    row.status,
    row.receivedAt,
    row.persistedAt,
    row.kafka ? textCell(row.kafka.topic) : "",
    row.kafka ? String(row.kafka.partition) : "",
    row.kafka ? String(row.kafka.offset) : "",
  ].join(",");
}

export const CSV_HEADER = `${CSV_COLUMNS.join(",")}\r\n`;

export interface CsvExport {
  body: string;
  rows: number;
  /** Pass as `cursor` for the rest; null when this was the last of the rows matching the filters. */
  nextCursor: string | null;
}

/**
 * The header, then the matching rows newest first, one string per read of at most CSV_CHUNK_ROWS rows, until
 * `query.limit` rows or `maxBytes` were yielded; returns where to continue.
 */
export async function* csvChunks(
  query: ReportsCsvQuery,
  options: { maxBytes?: number; db?: Database } = {},
): AsyncGenerator<string, string | null> {
  const maxBytes = options.maxBytes ?? MAX_CSV_BYTES;
  yield CSV_HEADER;
  let bytes = CSV_HEADER.length;
  let rows = 0;
  let cursor = query.cursor;
  // At least one chunk, whatever the budget, so every response moves the cursor on.
  while (rows < query.limit && (rows === 0 || bytes < maxBytes)) {
    const page = await listTransactions({ ...query, cursor, limit: Math.min(CSV_CHUNK_ROWS, query.limit - rows) }, options.db);
    if (page.items.length === 0) return null;
    let chunk = "";
    for (const item of page.items) chunk += `${csvLine(item)}\r\n`;
    yield chunk;
    rows += page.items.length;
    bytes += Buffer.byteLength(chunk);
    if (!page.nextCursor) return null;
    const last = page.items[page.items.length - 1] as StoredTransaction;
    cursor = { receivedAt: last.receivedAt, id: last.id };
  }
  return cursor ? encodeCursor(cursor) : null;
}

/** One response's worth: csvChunks() joined (at most ~4.7 MB, the buffered Lambda response's budget). */
export async function exportCsv(query: ReportsCsvQuery, db?: Database): Promise<CsvExport> {
  const chunks = csvChunks(query, { db });
  let body = "";
  let rows = -1;
  for (;;) {
    const next = await chunks.next();
    if (next.done) return { body, rows, nextCursor: next.value };
    body += next.value;
    rows += next.value.split("\r\n").length - 1;
  }
}
