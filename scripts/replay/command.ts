/**
 * npm run replay -- [--topic transactions] --from <offset|ISO date-time> [--to <offset|ISO date-time>]
 *                   [--partition P] [--batch-size 500]
 * Reads a range of a topic again and hands it to the consume handler (scripts/replay/replay.ts):
 * stored once by id, dead letters once by source offset. Prints a summary per partition.
 */
import { InvalidArgumentError, Option } from "@commander-js/extra-typings";
import type { Context, MSKEvent } from "aws-lambda";
import { handler } from "../../handlers/consume.js";
import { config } from "../../lib/config.js";
import type { BatchSummary } from "../../lib/consumer/persist.js";
import { kafka } from "../../lib/kafka/client.js";
import { releaseClients } from "../../lib/lifecycle.js";
import { cliCommand, parseOrExit, positiveInteger, usageError, wholeNumber } from "../cli/args.js";
import { requireDatabase, requireKafka } from "../cli/dependencies.js";
import { startProgress } from "../cli/progress.js";
import { runMain } from "../cli/run.js";
import { describePosition, type Position, parsePosition } from "./range.js";
import { DEFAULT_REPLAY_BATCH, type ReplaySummary, replay } from "./replay.js";

function position(text: string): Position {
  try {
    return parsePosition(text);
  } catch (error) {
    throw new InvalidArgumentError(`${(error as Error).message}.`);
  }
}

const command = parseOrExit(
  cliCommand(
    "npm run replay --",
    "Reads a range of a topic again and hands its records to the consume handler (handlers/consume.handler) in MSK events, as the trigger does: new ids are stored, ids already stored are counted as duplicates, poison records are dead-lettered once per source offset. Nothing is produced to the topic and no consumer group's offsets move. An offset applies to every partition read (use --partition for one); a date-time is looked up per partition in the broker's time index.",
  )
    .option("--topic <topic>", "the topic to read", config.TRANSACTIONS_TOPIC)
    .addOption(
      new Option("--from <position>", "first record: an offset, or an ISO date-time (records written then or later)")
        .argParser(position)
        .makeOptionMandatory(),
    )
    .addOption(
      new Option(
        "--to <position>",
        "last record: an offset (inclusive), or an ISO date-time (records written before it) (default: the end now)",
      ).argParser(position),
    )
    .addOption(new Option("--partition <p>", "one partition only (default: every partition)").argParser(wholeNumber))
    .option(
      "--batch-size <n>",
      "records per invocation at most (the consume function's batchSize)",
      positiveInteger,
      DEFAULT_REPLAY_BATCH,
    ),
);
const options = command.opts();
if (options.to && "offset" in options.to && "offset" in options.from && options.to.offset < options.from.offset) {
  usageError(command, `--to ${options.to.offset} is before --from ${options.from.offset}`);
}

const invokeHandler = async (event: MSKEvent) => (await handler(event, {} as Context, () => {})) as BatchSummary | undefined;

function printSummary(summary: ReplaySummary): void {
  if (!process.stdout.isTTY) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return;
  }
  const lines = [
    `replay: read ${summary.read} records of ${summary.topic} (${summary.offsets} offsets, ${describePosition(options.from)}${options.to ? ` to ${describePosition(options.to)}` : " to the end"}) in ${summary.invocations} invocations, ${(summary.ms / 1000).toFixed(1)} s`,
    `  inserted ${summary.inserted}, duplicates ${summary.duplicates} (already stored), dead-lettered ${summary.deadLettered}`,
    ...summary.partitions.map(
      (p) =>
        `  partition ${p.partition}: ${p.to > p.from ? `offsets ${p.from}..${p.to - 1}` : "nothing in range"}, read ${p.read}, inserted ${p.inserted}, duplicates ${p.duplicates}, dead-lettered ${p.deadLettered}`,
    ),
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

async function main(): Promise<void> {
  await requireKafka(config.KAFKA_BROKERS);
  await requireDatabase(config.DATABASE_URL);
  const progress = startProgress({ name: "replay", unit: "records", total: 0 });
  let summary: ReplaySummary;
  try {
    summary = await replay({
      kafka,
      topic: options.topic,
      from: options.from,
      to: options.to,
      partition: options.partition,
      batchSize: options.batchSize,
      invoke: invokeHandler,
      onProgress: (read, total) => {
        progress.setTotal(total);
        progress.update(read);
      },
    });
  } finally {
    progress.stop();
  }
  printSummary(summary);
}

runMain("replay", main, releaseClients);
