import type { Api } from "./api.js";

/**
 * GET /reports as one CSV file: the API answers at most 20,000 rows a response (a Lambda response is buffered),
 * so this follows Next-Cursor until the last part, keeping each part as a Blob (outside the script's heap) and
 * dropping the header row of every part after the first.
 */
export async function downloadCsv(
  api: Api,
  filters: Record<string, string>,
  onProgress: (rows: number) => void,
): Promise<number> {
  const parts: Blob[] = [];
  let rows = 0;
  let cursor: string | undefined;
  do {
    const part = await api.csv("/reports", { ...filters, cursor });
    const text = parts.length === 0 ? part.text : part.text.slice(part.text.indexOf("\r\n") + 2);
    parts.push(new Blob([text], { type: "text/csv" }));
    rows += text.split("\r\n").length - 1 - (parts.length === 1 ? 1 : 0);
    onProgress(rows);
    cursor = part.nextCursor ?? undefined;
  } while (cursor);
  const url = URL.createObjectURL(new Blob(parts, { type: "text/csv" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = `transactions-${new Date().toISOString().replaceAll(":", "-").slice(0, 19)}.csv`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return rows;
}
