import type { DeadLetterRow, ReasonCount } from "./store.js";

/** How the dead-letters CLI shows rows: a table or blocks on a terminal, JSON otherwise. */

const utf8 = new TextDecoder("utf-8", { fatal: true });

export interface DecodedValue {
  bytes: number;
  /** The value as text, when it is UTF-8 without control characters (tabs and line breaks allowed). */
  text?: string;
  /** Whether the text parses as JSON. It is always shown as written: re-serialising could change numbers. */
  json?: boolean;
}

export function decodeValue(base64: string | null): DecodedValue | undefined {
  if (base64 === null) return undefined;
  const raw = Buffer.from(base64, "base64");
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    return { bytes: raw.length };
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text)) return { bytes: raw.length };
  try {
    JSON.parse(text);
    return { bytes: raw.length, text, json: true };
  } catch {
    return { bytes: raw.length, text, json: false };
  }
}

const source = (row: DeadLetterRow) => `${row.topic}/${row.partition}@${row.offset}`;

/** One JSON object a row, for JSON lines; the value's size only (show has the value). */
export function listEntry(row: DeadLetterRow) {
  return {
    id: row.id,
    createdAt: row.createdAt.toISOString(),
    reason: row.reason,
    topic: row.topic,
    partition: row.partition,
    offset: row.offset,
    key: row.key,
    detail: row.detail,
    redrivenAt: row.redrivenAt?.toISOString() ?? null,
    valueBytes: row.value === null ? null : Buffer.from(row.value, "base64").length,
  };
}

/** Everything about a row; the value as text when it is text, else base64 (null when not kept). */
export function showEntry(row: DeadLetterRow) {
  const decoded = decodeValue(row.value);
  return {
    ...listEntry(row),
    ...(decoded?.text !== undefined ? { valueText: decoded.text, valueIsJson: decoded.json } : { valueBase64: row.value }),
  };
}

const cut = (text: string, width: number) => (text.length > width ? `${text.slice(0, Math.max(0, width - 1))}…` : text);
const oneLine = (text: string) => text.replace(/\s+/g, " ");

/** Rows as a table fitting `columns` characters; the detail takes what the other columns leave. */
export function renderTable(rows: DeadLetterRow[], columns = 120): string {
  const header = ["id", "dead-lettered (UTC)", "reason", "source", "key", "redriven", "detail"];
  const cells = rows.map((row) => [
    String(row.id),
    row.createdAt.toISOString().slice(0, 19).replace("T", " "),
    row.reason,
    source(row),
    cut(oneLine(row.key ?? "-"), 16),
    row.redrivenAt ? row.redrivenAt.toISOString().slice(0, 19).replace("T", " ") : "-",
    oneLine(row.detail),
  ]);
  const widths = header
    .slice(0, -1)
    .map((title, index) => Math.max(title.length, ...cells.map((line) => (line[index] as string).length)));
  const used = widths.reduce((sum, width) => sum + width + 2, 0);
  const detailWidth = Math.max(20, columns - used);
  const format = (line: string[]) =>
    line
      .map((cell, index) => (index < widths.length ? cell.padEnd(widths[index] as number) : cut(cell, detailWidth)))
      .join("  ")
      .trimEnd();
  return [format(header), ...cells.map(format)].join("\n");
}

export function renderCounts(counts: ReasonCount[]): string {
  const total = counts.reduce((sum, { count }) => sum + count, 0);
  const pending = counts.reduce((sum, { pending: open }) => sum + open, 0);
  const parts = counts.map(
    ({ reason, count, pending: open }) => `${reason} ${count}${open !== count ? ` (${open} not redriven)` : ""}`,
  );
  return `${total} dead letters match, ${pending} never redriven${parts.length ? `: ${parts.join(", ")}` : ""}`;
}

/** One row in full, for a terminal. */
export function renderShow(row: DeadLetterRow): string {
  const decoded = decodeValue(row.value);
  const lines = [
    `dead letter ${row.id}`,
    `  reason        ${row.reason}`,
    `  detail        ${row.detail}`,
    `  source        ${row.topic} partition ${row.partition} offset ${row.offset}`,
    `  key           ${row.key ?? "(none)"}`,
    `  dead-lettered ${row.createdAt.toISOString()}`,
    `  redriven      ${row.redrivenAt?.toISOString() ?? "never"}`,
  ];
  if (!decoded) {
    lines.push("  value         not kept (see detail); read it at the source offset");
  } else if (decoded.text !== undefined) {
    lines.push(
      `  value         ${decoded.bytes} bytes, ${decoded.json ? "JSON" : "text"} (as written; --raw prints only this):`,
      decoded.text,
    );
  } else {
    lines.push(`  value         ${decoded.bytes} bytes, binary (base64):`, row.value as string);
  }
  return lines.join("\n");
}
