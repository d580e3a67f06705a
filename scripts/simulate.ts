/**
 * npm run simulate [-- --api-key KEY --file paysim.csv --rows N --concurrency 16 --rate R --bulk B --verify --json]
 * Replays a PaySim CSV against the API as live traffic and reports what happened; --verify then
 * checks the database (DATABASE_URL) for every accepted id. Exit 1 when a row was lost or stored
 * twice, when no request was accepted, or when the file is bad.
 */
import "./infra/local-env.js";
import { createReadStream } from "node:fs";
import { parseArgs } from "node:util";
import { SingleBar } from "cli-progress";
import { config } from "../lib/config.js";
import { closeDb } from "../lib/db/client.js";
import { type Progress, type SimulateReport, simulate } from "./simulate/run.js";
import type { LatencySummary } from "./simulate/stats.js";
import { type VerifyReport, verifyStored } from "./simulate/verify.js";

const { values } = parseArgs({
  options: {
    url: { type: "string", default: "http://localhost:3000" },
    "api-key": { type: "string", default: config.API_KEY },
    file: { type: "string", default: "paysim.csv" },
    rows: { type: "string" },
    concurrency: { type: "string", default: "16" },
    rate: { type: "string" },
    bulk: { type: "string", default: "1" },
    verify: { type: "boolean", default: false },
    "verify-timeout": { type: "string", default: "120" },
    json: { type: "boolean", default: false },
  },
});

function positive(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^[1-9]\d*$/.test(text)) throw new Error(`--${name}: expected a positive whole number, got ${JSON.stringify(text)}`);
  return Number(text);
}

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
  const rows = positive("rows", values.rows);
  const concurrency = positive("concurrency", values.concurrency) as number;
  const rate = positive("rate", values.rate);
  const bulk = positive("bulk", values.bulk) as number;
  const verifyTimeoutMs = (positive("verify-timeout", values["verify-timeout"]) as number) * 1000;
  const tty = process.stdout.isTTY && !values.json;

  const total = rows ?? (await countRows(values.file).catch(() => 0));
  const bar = tty
    ? new SingleBar({
        format:
          "simulate [{bar}] {value}/{total} tx | {rate} tx/s | accepted {accepted} rejected {rejected} | {duration_formatted}",
        hideCursor: true,
      })
    : undefined;
  bar?.start(total, 0, { rate: 0, accepted: 0, rejected: 0 });
  let lastLine = 0;
  const onProgress = (progress: Progress) => {
    const txRate = Math.round(progress.sent / Math.max(progress.elapsedMs / 1000, 0.001));
    if (bar) {
      bar.update(progress.sent, { rate: txRate, accepted: progress.accepted, rejected: progress.rejected });
    } else if (progress.elapsedMs - lastLine >= 2_000) {
      lastLine = progress.elapsedMs;
      process.stderr.write(
        `${JSON.stringify({ event: "progress", ...progress, elapsedMs: Math.round(progress.elapsedMs), txPerSecond: txRate })}\n`,
      );
    }
  };

  const { report, acceptedRows } = await simulate({
    url: values.url,
    apiKey: values["api-key"],
    file: values.file,
    rows,
    concurrency,
    rate,
    bulk,
    keepAccepted: values.verify,
    onProgress,
  });
  bar?.stop();

  let verify: VerifyReport | undefined;
  if (values.verify) {
    const verifyBar = tty
      ? new SingleBar({ format: "verify   [{bar}] {value}/{total} stored | {duration_formatted}" })
      : undefined;
    verifyBar?.start(acceptedRows.length, 0);
    verify = await verifyStored(acceptedRows, {
      timeoutMs: verifyTimeoutMs,
      window: { from: new Date(report.startedAt), to: new Date(report.endedAt) },
      onProgress: (stored, all) => {
        if (verifyBar) verifyBar.update(stored);
        else process.stderr.write(`${JSON.stringify({ event: "verify-progress", stored, accepted: all })}\n`);
      },
    });
    verifyBar?.stop();
  }

  if (values.json) process.stdout.write(`${JSON.stringify({ report, verify })}\n`);
  else printReport(report, verify);

  const failed = (verify && (verify.lost > 0 || verify.duplicated > 0)) || (report.sent > 0 && report.accepted === 0);
  return failed ? 1 : 0;
}

main()
  .then((code) => {
    process.exitCode = code;
  })
  .catch((error: unknown) => {
    process.stderr.write(`simulate failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  })
  .finally(() => closeDb());
