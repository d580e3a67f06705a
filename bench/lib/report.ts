/**
 * The result model of a bench run and its rendering: pure functions, unit-tested in
 * test/unit/bench-report.test.ts.
 */

/** One row of the table: what was measured, against what, and whether the target is met. */
export interface ResultRow {
  stage: string;
  metric: string;
  value: number;
  unit: string;
  /** The reference measured in the same run (e.g. the HTTP ceiling, the COPY rate), when there is one. */
  reference?: number;
  /** value / reference. */
  ratio?: number;
  /** The target as text, e.g. ">= 85% of ceiling", "<= 50 ms". */
  target?: string;
  met?: boolean;
  note?: string;
}

export type Comparison = ">=" | "<=";

/** A target on the value itself (`value >= 40000`) or on the ratio to the reference (`ratio >= 0.85`). */
export interface Target {
  on: "value" | "ratio";
  comparison: Comparison;
  threshold: number;
}

export function meets(target: Target, row: Pick<ResultRow, "value" | "ratio">): boolean | undefined {
  const measured = target.on === "value" ? row.value : row.ratio;
  if (measured === undefined || !Number.isFinite(measured)) return undefined;
  return target.comparison === ">=" ? measured >= target.threshold : measured <= target.threshold;
}

export function describeTarget(target: Target, unit: string): string {
  if (target.on === "ratio") return `${target.comparison} ${formatPercent(target.threshold)} of ref`;
  return `${target.comparison} ${formatNumber(target.threshold)} ${unit}`.trim();
}

/** Builds a row, computing the ratio and whether the target is met. */
export function row(
  stage: string,
  metric: string,
  value: number,
  unit: string,
  options: { reference?: number; target?: Target; note?: string } = {},
): ResultRow {
  const ratio = options.reference ? value / options.reference : undefined;
  const result: ResultRow = { stage, metric, value, unit };
  if (options.reference !== undefined) result.reference = options.reference;
  if (ratio !== undefined) result.ratio = ratio;
  if (options.target) {
    result.target = describeTarget(options.target, unit);
    const met = meets(options.target, { value, ratio });
    if (met !== undefined) result.met = met;
  }
  if (options.note) result.note = options.note;
  return result;
}

/**
 * The p-th percentile (0..100) of `values` by linear interpolation between closest ranks, as
 * PostgreSQL's percentile_cont does. NaN for no values.
 */
export function percentile(values: readonly number[], p: number): number {
  if (!values.length) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (Math.min(100, Math.max(0, p)) / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  const lowValue = sorted[low] as number;
  const highValue = sorted[high] as number;
  return lowValue + (highValue - lowValue) * (rank - low);
}

export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return "n/a";
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return value.toLocaleString("en-US", { minimumFractionDigits: 0, maximumFractionDigits: digits });
}

export function formatPercent(ratio: number): string {
  return Number.isFinite(ratio) ? `${(ratio * 100).toFixed(ratio < 0.1 ? 1 : 0)}%` : "n/a";
}

const COLUMNS = ["stage", "metric", "value", "reference", "ratio", "target", "met?"] as const;

/** The rows as a Markdown table (it reads fine in a terminal and pastes into docs/performance.md unchanged). */
export function renderTable(rows: readonly ResultRow[]): string {
  const cells = rows.map((r) => [
    r.stage,
    r.metric,
    `${formatNumber(r.value)} ${r.unit}`.trim(),
    r.reference === undefined ? "" : `${formatNumber(r.reference)} ${r.unit}`.trim(),
    r.ratio === undefined ? "" : formatPercent(r.ratio),
    r.target ?? "",
    r.met === undefined ? "" : r.met ? "yes" : "NO",
  ]);
  const widths = COLUMNS.map((name, i) => Math.max(name.length, ...cells.map((c) => (c[i] as string).length)));
  const line = (values: readonly string[]) => `| ${values.map((v, i) => v.padEnd(widths[i] as number)).join(" | ")} |`;
  return [line(COLUMNS), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...cells.map(line)].join("\n");
}

/** The rows' notes, one line each, for under the table. */
export function renderNotes(rows: readonly ResultRow[]): string {
  return rows
    .filter((r) => r.note)
    .map((r) => `- ${r.stage}, ${r.metric}: ${r.note}`)
    .join("\n");
}
