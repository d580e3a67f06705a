/**
 * npm run simulate [-- --api-key KEY --file paysim.csv --rows N --concurrency 16 --rate R --bulk B --verify --json]
 * Replays a PaySim CSV against the API as live traffic and reports what happened; --verify then
 * checks the database (DATABASE_URL) for every accepted id. Exit 1 when a row was lost or stored
 * twice, when no request was accepted, or when the file is bad.
 */
import { createReadStream } from "node:fs";
import { Option } from "@commander-js/extra-typings";
import { config } from "../../lib/config.js";
import { closeDb } from "../../lib/db/client.js";
import { cliCommand, httpUrl, parseOrExit, positiveInteger } from "../cli/args.js";
import { requireDatabase } from "../cli/dependencies.js";
import { startProgress } from "../cli/progress.js";
import { runMain } from "../cli/run.js";
import { type Progress, type SimulateReport, simulate } from "./run.js";
import type { LatencySummary } from "./stats.js";
import { type VerifyReport, verifyStored } from "./verify.js";

const command = parseOrExit(
  cliCommand(
    "npm run simulate --",
    "Replays a PaySim CSV against the API as live traffic and reports what happened; --verify then checks the\n" +
      "database (DATABASE_URL) for every accepted id. Exit 1 when a row was lost or stored twice, when no\n" +
      "request was accepted, or when the file is bad.",
  )
    .option("--url <url>", "the API's base URL", httpUrl, "http://localhost:3000")
    // The key's value is never shown: it may be a secret.
    .addOption(new Option("--api-key <key>", "sent as x-api-key").default(config.API_KEY, "$API_KEY, else the development key"))
    .option("--file <path>", "the PaySim CSV", "paysim.csv")
    .addOption(new Option("--rows <n>", "rows to send from the top of the file (default: all)").argParser(positiveInteger))
    .option("--concurrency <n>", "requests in flight at most", positiveInteger, 16)
    .addOption(new Option("--rate <tx-per-s>", "transactions per second (default: unlimited)").argParser(positiveInteger))
    .option("--bulk <n>", "1: one POST /transaction per row; N > 1: POST /transactions with N rows", positiveInteger, 1)
    .option("--verify", "then wait until every accepted id is stored and check for losses and duplicates", false)
    .option("--verify-timeout <seconds>", "how long --verify waits", positiveInteger, 120)
    .option("--json", "print the report as one JSON line", false),
);
const options = command.opts();

/** Data rows in the file (newlines minus the header), for the progress bar's total; streams. */
async function countRows(file: string): Promise<number> {
  let newlines = 0;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    for (let index = chunk.indexOf(10); index !== -1; index = chunk.indexOf(10, index + 1)) newlines++;
  }
  return Math.max(0, newlines - 1);
}

const ms = (summary: LatencySummary) => `p50 ${summary.p50} p95 ${summary.p95} p99 ${summary.p99} max ${summary.max}`;

function printReport(report: SimulateReport, verify: VerifyReport | undefined): void {
  const rejected = Object.entries(report.rejected)
    .map(([status, count]) => `${status}: ${count}`)
    .join(", ");
  const lines = [
    `simulate: sent ${report.sent} transactions in ${report.requests} requests to ${report.url} (bulk ${report.bulk}, concurrency ${report.concurrency}${report.rate ? `, rate ${report.rate} tx/s` : ""}) in ${(report.durationMs / 1000).toFixed(1)} s`,
    `  accepted ${report.accepted}, rejected ${report.sent - report.accepted}${rejected ? ` (${rejected})` : ""}`,
    `  throughput ${report.requestsPerSecond} req/s, ${report.transactionsPerSecond} tx/s`,
    `  request latency ms: ${ms(report.latencyMs)}`,
    ...report.sampleErrors.map((error) => `  e.g. ${error}`),
  ];
  if (verify) {
    lines.push(
      `verify: stored ${verify.stored} of ${verify.accepted} accepted, lost ${verify.lost}, duplicated ${verify.duplicated} (waited ${(verify.waitedMs / 1000).toFixed(1)} s)`,
      `  end-to-end ms (persisted_at - received_at): ${ms(verify.endToEndMs)}`,
    );
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}

async function main(): Promise<number> {
  // Checked first: --verify would otherwise find out only after the whole run.
  if (options.verify) await requireDatabase(config.DATABASE_URL);
  const total = options.rows ?? (await countRows(options.file).catch(() => 0));
  const progress = startProgress({
    name: "simulate",
    unit: "tx",
    total,
    fields: { txPerSecond: 0, accepted: 0, rejected: 0 },
    fieldsFormat: "{txPerSecond} tx/s | accepted {accepted} rejected {rejected}",
  });
  const onProgress = (state: Progress) => {
    const txRate = Math.round(state.sent / Math.max(state.elapsedMs / 1000, 0.001));
    progress.update(state.sent, { txPerSecond: txRate, accepted: state.accepted, rejected: state.rejected });
  };

  let outcome: Awaited<ReturnType<typeof simulate>>;
  try {
    outcome = await simulate({
      url: options.url,
      apiKey: options.apiKey,
      file: options.file,
      rows: options.rows,
      concurrency: options.concurrency,
      rate: options.rate,
      bulk: options.bulk,
      keepAccepted: options.verify,
      onProgress,
    });
  } finally {
    progress.stop();
  }
  const { report, acceptedRows } = outcome;

  let verify: VerifyReport | undefined;
  if (options.verify) {
    const verifying = startProgress({ name: "verify", unit: "stored", total: acceptedRows.length });
    try {
      verify = await verifyStored(acceptedRows, {
        timeoutMs: options.verifyTimeout * 1000,
        window: { from: new Date(report.startedAt), to: new Date(report.endedAt) },
        onProgress: (stored) => verifying.update(stored),
      });
    } finally {
      verifying.stop();
    }
  }

  if (options.json) process.stdout.write(`${JSON.stringify({ report, verify })}\n`);
  else printReport(report, verify);

  const failed = (verify && (verify.lost > 0 || verify.duplicated > 0)) || (report.sent > 0 && report.accepted === 0);
  return failed ? 1 : 0;
}

runMain("simulate", main, closeDb);
