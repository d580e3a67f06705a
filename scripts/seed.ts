/**
 * npm run seed [-- --rows 100 --file paysim.csv --batch 1000]
 * Migrates the database, then stores the first N rows of a PaySim CSV as Historical transactions.
 * Re-running inserts nothing new (deterministic ids). A bad file: error with file, line, reason; exit 1.
 */
import "./infra/local-env.js";
import { parseArgs } from "node:util";
import { SingleBar } from "cli-progress";
import { closeDb, runMigrations } from "../lib/db/client.js";
import { DEFAULT_SEED_BATCH, seedTransactions } from "./seed/historical.js";

const { values } = parseArgs({
  options: {
    rows: { type: "string", default: "100" },
    file: { type: "string", default: "paysim.csv" },
    batch: { type: "string", default: String(DEFAULT_SEED_BATCH) },
  },
});

function positive(name: string, text: string): number {
  if (!/^[1-9]\d*$/.test(text)) throw new Error(`--${name}: expected a positive whole number, got ${JSON.stringify(text)}`);
  return Number(text);
}

async function main(): Promise<void> {
  const rows = positive("rows", values.rows);
  const batchSize = positive("batch", values.batch);
  await runMigrations();
  const bar = process.stdout.isTTY
    ? new SingleBar({ format: "seed [{bar}] {value}/{total} rows | {percentage}% | {duration_formatted}", hideCursor: true })
    : undefined;
  bar?.start(rows, 0);
  try {
    const summary = await seedTransactions({ file: values.file, rows, batchSize, onProgress: (read) => bar?.update(read) });
    bar?.update(summary.read);
    bar?.stop();
    process.stdout.write(
      `seed: read ${summary.read}, inserted ${summary.inserted}, skipped ${summary.skipped} (already stored) from ${summary.file} in ${summary.ms} ms\n`,
    );
  } catch (error) {
    bar?.stop();
    throw error;
  }
}

main()
  .catch((error: unknown) => {
    process.stderr.write(`seed failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  })
  .finally(() => closeDb());
