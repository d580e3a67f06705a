/**
 * npm run verify [-- --scope <scope> --from <seq> --to <seq>]
 * Recomputes the transactions' hash chains (lib/db/chain.ts) and prints the first row that breaks one and why.
 * Exit 0: every chain verified holds; 1: a break (or the database could not be read); 2: a usage mistake.
 */
import { config } from "../../lib/config.js";
import { closeDb, getDb } from "../../lib/db/client.js";
import { cliCommand, parseOrExit, positiveInteger, usageError } from "../cli/args.js";
import { requireDatabase } from "../cli/dependencies.js";
import { startProgress } from "../cli/progress.js";
import { CliError, runMain } from "../cli/run.js";
import { type Break, chainScopes, unchainedRows, verifyScope } from "./chain.js";

const command = parseOrExit(
  cliCommand(
    "npm run verify --",
    "Recomputes the hash chains of the stored transactions (one chain per Kafka topic-partition, one for seeded " +
      "Historical rows) from each row's content and the previous row's hash, checks each chain's last row against its " +
      "head (chain_heads), and looks for rows without a chain stored after chaining began. Prints the first row that " +
      "breaks a chain and why (edited, deleted, inserted by hand). Exit 0 when intact, 1 when not.",
  )
    .option("--scope <scope>", "one chain (e.g. transactions-0, historical); default: every chain and the unchained rows")
    .option("--from <seq>", "first place in the chain to verify (trusting the stored hash of the one before)", positiveInteger, 1)
    .option("--to <seq>", "last place to verify (default: the chain's head, which is checked too)", positiveInteger),
);
const options = command.opts();
if (options.to !== undefined && options.to < options.from) usageError(command, "--to must not be less than --from");

const describe = (found: Break) =>
  `verify: BROKEN: chain ${found.scope}${found.seq !== null ? `, row ${found.seq}` : ""}${found.id ? ` (id ${found.id})` : ""}: ${found.reason}\n`;

async function main(): Promise<number> {
  await requireDatabase(config.DATABASE_URL);
  const db = getDb();
  const heads = await chainScopes(db);
  const scopes = options.scope ? heads.filter((head) => head.scope === options.scope) : heads;
  if (options.scope && scopes.length === 0) throw new CliError(`no chain named ${options.scope} (npm run verify lists them)`);
  const total = scopes.reduce((sum, head) => sum + Math.max(0, Math.min(options.to ?? head.seq, head.seq) - options.from + 1), 0);
  const progress = startProgress({ name: "verify", unit: "rows", total });
  let done = 0;
  try {
    for (const head of scopes) {
      const result = await verifyScope(db, head.scope, { from: options.from, to: options.to }, (rows) =>
        progress.update(done + rows),
      );
      done += result.rows;
      progress.update(done);
      if (result.broken) {
        progress.stop();
        process.stdout.write(describe(result.broken));
        return 1;
      }
      const span = result.rows > 0 ? `rows ${result.from} to ${result.to}` : "no rows in range";
      process.stdout.write(`verify: chain ${head.scope}: ${span} intact (head ${head.seq}, ${head.hash.slice(0, 16)}…)\n`);
    }
    if (!options.scope) {
      const unchained = await unchainedRows(db);
      if (unchained.after) {
        progress.stop();
        process.stdout.write(
          describe({
            scope: "(none)",
            seq: null,
            id: unchained.after.id,
            reason: `stored at ${unchained.after.persistedAt.toISOString()}, after chaining began, without a chain: inserted by hand`,
          }),
        );
        return 1;
      }
      if (unchained.before > 0) {
        process.stdout.write(
          `verify: ${unchained.before} rows stored before chaining began carry no chain and were not verified\n`,
        );
      }
    }
  } finally {
    progress.stop();
  }
  process.stdout.write(`verify: ${done} rows in ${scopes.length} chain(s) intact\n`);
  return 0;
}

runMain("verify", main, closeDb);
