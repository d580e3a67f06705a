/**
 * npm run dead-letters -- list [--reason R] [--since T] [--topic T] [--pending] [--limit 50]
 *                        show ID [--raw]
 *                        redrive [--id ID [--value-file F] | --reason R] [--topic T] [--dry-run]
 * Reads the dead_letters table (scripts/dead-letters/), after importing what the trigger's on-failure
 * destination wrote to the dead-letter topic; redrive produces records again to their source topic.
 */
import { readFile } from "node:fs/promises";
import { Option } from "@commander-js/extra-typings";
import { config } from "../../lib/config.js";
import { DeadLetterReason, OnFailureReason, PoisonReason } from "../../lib/consumer/reasons.js";
import { getDb } from "../../lib/db/client.js";
import { kafka } from "../../lib/kafka/client.js";
import { produce } from "../../lib/kafka/producer.js";
import { releaseClients } from "../../lib/lifecycle.js";
import { cliCommand, parseInstant, parseOrExit, positiveInteger, usageError } from "../cli/args.js";
import { requireDatabase, requireKafka } from "../cli/dependencies.js";
import { startProgress } from "../cli/progress.js";
import { CliError, describeError, runMain } from "../cli/run.js";
import { kafkaAnswers } from "../infra/index.js";
import { type ImportSummary, importDeadLetterTopic } from "./import.js";
import { type RedriveSummary, redrive } from "./redrive.js";
import { listEntry, renderCounts, renderShow, renderTable, showEntry } from "./render.js";
import { countByReason, findDeadLetter, listDeadLetters } from "./store.js";

const tty = process.stdout.isTTY === true;
const reasonOption = () => new Option("--reason <reason>", "only this reason").choices(DeadLetterReason.options);
const topicOption = () => new Option("--topic <topic>", "only records from this source topic");
const importOption = () =>
  new Option("--no-import", `do not first import the trigger's on-failure records from ${config.DEAD_LETTER_TOPIC}`);

let run: (() => Promise<number | undefined>) | undefined;

const program = cliCommand(
  "npm run dead-letters --",
  `Records the pipeline could not store: the consumer's poison records (${PoisonReason.options.join(", ")}) and the ones the trigger gave up on (${OnFailureReason.options.join(", ")}), kept in the dead_letters table with their original key and value. list and redrive first import what the trigger wrote to ${config.DEAD_LETTER_TOPIC} since the last time. Output is a table on a terminal and JSON lines otherwise.`,
);

program
  .command("list")
  .description("dead letters, newest first, and how many match by reason")
  .addOption(reasonOption())
  .addOption(
    new Option("--since <when>", "dead-lettered at or after: an ISO date-time or a time ago (30m, 2h, 7d)").argParser((text) =>
      parseInstant(text),
    ),
  )
  .addOption(topicOption())
  .option("--pending", "only the ones never redriven")
  .option("--limit <n>", "rows at most", positiveInteger, 50)
  .addOption(importOption())
  .action((options) => {
    run = () => list(options);
  });

program
  .command("show")
  .description("one dead letter in full; the value as written when it is text")
  .argument("<id>", "its id (the first column of list)", positiveInteger)
  .option("--raw", "print only the value's bytes (to fix it: show ID --raw > fixed.json)")
  .action((id, options) => {
    run = () => show(id, options.raw === true);
  });

const redriveCommand = program
  .command("redrive")
  .description(
    "produce dead letters again to their source topic and partition (original key and value), then mark them redriven. Without --id: every one never redriven (of --reason, --topic). A transaction is stored once however often it is redriven; a record still poison is dead-lettered again at its new offset.",
  )
  .addOption(new Option("--id <id>", "this dead letter, even if redriven before").argParser(positiveInteger).conflicts("reason"))
  .addOption(reasonOption())
  .addOption(topicOption())
  .option("--value-file <file>", "with --id: send this file's bytes instead of the stored value (the corrected record)")
  .option("--dry-run", "say what would be redriven and what the consumer will make of each; produce nothing")
  .addOption(importOption())
  .action((options) => {
    run = () => redriveDeadLetters(options);
  });

parseOrExit(program);

/** The trigger's records, imported when Kafka answers; the table alone otherwise (said once on stderr). */
async function importFirst(required: boolean): Promise<void> {
  if (!required && !(await kafkaAnswers(config.KAFKA_BROKERS))) {
    process.stderr.write(
      `dead-letters: Kafka does not answer at ${config.KAFKA_BROKERS.join(",")}; the trigger's records on ${config.DEAD_LETTER_TOPIC} are not imported this time\n`,
    );
    return;
  }
  const progress = startProgress({ name: "import", unit: "messages", total: 0 });
  let summary: ImportSummary;
  try {
    summary = await importDeadLetterTopic({
      kafka,
      db: getDb(),
      topic: config.DEAD_LETTER_TOPIC,
      onProgress: (read, total) => {
        progress.setTotal(total);
        progress.update(read);
      },
    });
  } finally {
    progress.stop();
  }
  if (summary.read > 0) process.stderr.write(`dead-letters: ${describeImport(summary)}\n`);
}

/** One line: what was read, imported, and skipped and why. */
function describeImport(summary: ImportSummary): string {
  const skipped = [
    summary.unrecognised && `${summary.unrecognised} not dead letters`,
    summary.foreignTopic && `${summary.foreignTopic} naming a topic the pipeline does not consume`,
    summary.invalidSource && `${summary.invalidSource} with an invalid source partition, offset or timestamp`,
  ].filter(Boolean);
  const parts = [
    `${summary.read} read`,
    summary.consumers && `${summary.consumers} the consumer's own (rows already)`,
    summary.kept && `${summary.kept} kept before`,
    skipped.length && `skipped ${skipped.join(", ")}`,
  ].filter(Boolean);
  return `imported ${summary.imported} from ${summary.topic} (${parts.join("; ")})`;
}

async function list(options: {
  reason?: string;
  since?: Date;
  topic?: string;
  pending?: boolean;
  limit: number;
  import: boolean;
}): Promise<number> {
  await requireDatabase(config.DATABASE_URL);
  if (options.import) await importFirst(false);
  const filter = { reason: options.reason, since: options.since, topic: options.topic, pending: options.pending };
  const rows = await listDeadLetters(getDb(), filter, options.limit);
  if (!tty) {
    for (const row of rows) process.stdout.write(`${JSON.stringify(listEntry(row))}\n`);
    return 0;
  }
  const counts = await countByReason(getDb(), filter);
  const shown = rows.length ? `${renderTable(rows, process.stdout.columns)}\n\n` : "";
  const more = counts.reduce((sum, { count }) => sum + count, 0) > rows.length ? ` (${rows.length} shown: --limit)` : "";
  process.stdout.write(`${shown}${renderCounts(counts)}${more}\n`);
  return 0;
}

async function show(id: number, raw: boolean): Promise<number> {
  await requireDatabase(config.DATABASE_URL);
  const row = await findDeadLetter(getDb(), id);
  if (!row) throw new CliError(`no dead letter ${id} (npm run dead-letters -- list)`);
  if (raw) {
    if (row.value === null) throw new CliError(`dead letter ${id}: its value was not kept (${row.detail})`);
    process.stdout.write(Buffer.from(row.value, "base64"));
  } else if (tty) {
    process.stdout.write(`${renderShow(row)}\n`);
  } else {
    process.stdout.write(`${JSON.stringify(showEntry(row))}\n`);
  }
  return 0;
}

function printRedrive(summary: RedriveSummary): void {
  if (!tty) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return;
  }
  const lines = summary.items.map(
    (item) =>
      `  ${String(item.id).padStart(6)}  ${item.outcome.padEnd(13)}  ${item.reason.padEnd(20)}  ${item.source}  ${item.note}`,
  );
  if (summary.itemsOmitted > 0) lines.push(`  ... and ${summary.itemsOmitted} more (counted below)`);
  const verb = summary.dryRun ? "would redrive" : "redrove";
  lines.push(
    `redrive: ${verb} ${summary.dryRun ? summary.selected - summary.skipped : summary.redriven} of ${summary.selected} selected, skipped ${summary.skipped}`,
  );
  if (summary.stillPoison > 0) {
    lines.push(
      `  ${summary.stillPoison} ${summary.stillPoison === 1 ? "is" : "are"} still poison: the consumer will dead-letter ${summary.stillPoison === 1 ? "it" : "them"} again at the new offset (a new row)`,
    );
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}

async function redriveDeadLetters(options: {
  id?: number;
  reason?: string;
  topic?: string;
  valueFile?: string;
  dryRun?: boolean;
  import: boolean;
}): Promise<number> {
  if (options.valueFile !== undefined && options.id === undefined) usageError(redriveCommand, "--value-file needs --id");
  const value =
    options.valueFile === undefined
      ? undefined
      : await readFile(options.valueFile).catch((error: unknown) => {
          throw new CliError(`--value-file: ${describeError(error)}`);
        });
  await requireDatabase(config.DATABASE_URL);
  if (!options.dryRun) await requireKafka(config.KAFKA_BROKERS);
  if (options.import) await importFirst(!options.dryRun);
  const progress = startProgress({ name: "redrive", unit: "records", total: 0 });
  let summary: RedriveSummary;
  try {
    summary = await redrive({
      db: getDb(),
      selection: { id: options.id, reason: options.reason, topic: options.topic },
      value,
      dryRun: options.dryRun,
      produce,
      onProgress: (done, total) => {
        progress.setTotal(total);
        progress.update(done);
      },
    });
  } finally {
    progress.stop();
  }
  printRedrive(summary);
  return 0;
}

runMain("dead-letters", async () => run?.(), releaseClients);
