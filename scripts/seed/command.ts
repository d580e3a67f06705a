/**
 * npm run seed [-- --rows 100 --file paysim.csv --batch 1000]
 * Migrates the database, then stores the first N rows of a PaySim CSV as Historical transactions.
 * Re-running inserts nothing new (deterministic ids). A bad file: error with file, line, reason; exit 1.
 */
import { config } from "../../lib/config.js";
import { closeDb, runMigrations } from "../../lib/db/client.js";
import { cliCommand, parseOrExit, positiveInteger } from "../cli/args.js";
import { requireDatabase } from "../cli/dependencies.js";
import { startProgress } from "../cli/progress.js";
import { runMain } from "../cli/run.js";
import { DEFAULT_SEED_BATCH, seedTransactions } from "./historical.js";

const command = parseOrExit(
  cliCommand(
    "npm run seed --",
    "Migrates the database (DATABASE_URL), then stores the first N rows of a PaySim CSV as Historical transactions.\n" +
      "Ids are derived from each line, so running it again inserts nothing new.",
  )
    .option("--rows <n>", "rows to store from the top of the file", positiveInteger, 100)
    .option("--file <path>", "the PaySim CSV", "paysim.csv")
    .option("--batch <n>", "rows per database transaction", positiveInteger, DEFAULT_SEED_BATCH),
);
const options = command.opts();

async function main(): Promise<void> {
  await requireDatabase(config.DATABASE_URL);
  await runMigrations();
  const progress = startProgress({ name: "seed", unit: "rows", total: options.rows });
  try {
    const summary = await seedTransactions({
      file: options.file,
      rows: options.rows,
      batchSize: options.batch,
      onProgress: (read) => progress.update(read),
    });
    progress.update(summary.read);
    progress.stop();
    process.stdout.write(
      `seed: read ${summary.read}, inserted ${summary.inserted}, skipped ${summary.skipped} (already stored) from ${summary.file} in ${summary.ms} ms\n`,
    );
  } catch (error) {
    progress.stop();
    throw error;
  }
}

runMain("seed", main, closeDb);
