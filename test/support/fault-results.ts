import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";

/**
 * One row of the fault table: what a scenario accepted, what the database holds afterwards, and
 * what that proves. Each fault test computes its row from the broker and the database, asserts
 * lost = duplicated = 0, and appends it to the results file that `npm run test:faults` prints.
 */
export interface FaultRow {
  scenario: string;
  /** Transactions acknowledged to the client (202, or a producer ack). */
  accepted: number;
  /** Accepted transactions found in the database. */
  stored: number;
  /** Accepted but not stored. */
  lost: number;
  /** Rows beyond one per accepted transaction (a second row for one, or a row nobody was told was accepted). */
  duplicated: number;
  deadLettered: number;
  /** Records the consumer was handed again after storing them (absorbed by ON CONFLICT DO NOTHING). */
  redelivered: number;
  /** From the end of the fault (server back, worker restarted) until everything accepted was stored. */
  recoverMs: number | null;
  /** What else was measured (e.g. the API's answer time while the broker was down). */
  note?: string;
}

export const FAULT_RESULTS_FILE = resolve(
  process.env.FAULT_RESULTS_FILE ?? resolve(import.meta.dirname, "../../.cache/fault-results.jsonl"),
);

export function recordFaultRow(row: FaultRow): void {
  mkdirSync(dirname(FAULT_RESULTS_FILE), { recursive: true });
  appendFileSync(FAULT_RESULTS_FILE, `${JSON.stringify(row)}\n`);
}

export function readFaultRows(file = FAULT_RESULTS_FILE): FaultRow[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as FaultRow);
}

/** Accepted ids against the ids stored (with their row counts): how many were lost, how many doubled. */
export function tally(
  accepted: Iterable<string>,
  storedCounts: Map<string, number>,
): { stored: number; lost: number; duplicated: number } {
  const acceptedSet = new Set(accepted);
  let stored = 0;
  let lost = 0;
  let duplicated = 0;
  for (const id of acceptedSet) {
    const count = storedCounts.get(id) ?? 0;
    if (count === 0) lost += 1;
    else stored += 1;
    duplicated += Math.max(0, count - 1);
  }
  for (const [id, count] of storedCounts) if (!acceptedSet.has(id)) duplicated += count;
  return { stored, lost, duplicated };
}

const seconds = (ms: number | null) => (ms === null ? "–" : `${(ms / 1000).toFixed(1)} s`);

/** The table as markdown, one line per row in the order recorded. */
export function faultTable(rows: FaultRow[]): string {
  const lines = [
    "| scenario | accepted | stored | lost | duplicated | dead-lettered | redelivered (absorbed) | time to recover | notes |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---|",
  ];
  for (const row of rows) {
    lines.push(
      `| ${row.scenario} | ${row.accepted} | ${row.stored} | ${row.lost} | ${row.duplicated} | ${row.deadLettered} | ${row.redelivered} | ${seconds(row.recoverMs)} | ${row.note ?? ""} |`,
    );
  }
  return lines.join("\n");
}
