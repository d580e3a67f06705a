/**
 * npm run generate -- [--rows 10000] [--seed 2] [--scale 0.25] [--out paysim.csv]
 * Writes a PaySim-like CSV (see scripts/paysim/model.ts) as a stream; the same seed gives the same file.
 */

import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { cliCommand, parseOrExit, positiveNumber, wholeNumber } from "./cli/args.js";
import { startProgress } from "./cli/progress.js";
import { runMain } from "./cli/run.js";
import { generatePaysimRows, PAYSIM_HEADER, toCsvLine } from "./paysim/generator.js";
import { DEFAULT_VOLUME_SCALE } from "./paysim/model.js";

const command = parseOrExit(
  cliCommand(
    "npm run generate --",
    "Writes a PaySim-like CSV (PaySim's columns and the distributions of the real file) as a stream;\n" +
      "the same seed gives the same file.",
  )
    .option("--rows <n>", "data rows to write", wholeNumber, 10_000)
    .option("--seed <n>", "random seed", wholeNumber, 2)
    .option("--scale <x>", "transactions per step, relative to the real file", positiveNumber, DEFAULT_VOLUME_SCALE)
    .option("--out <path>", "the file to write; - for stdout", "paysim.csv"),
);
const options = command.opts();

async function main(): Promise<void> {
  const { rows, seed, scale } = options;
  const started = performance.now();
  const toStdout = options.out === "-";
  const out = toStdout ? process.stdout : createWriteStream(options.out);
  // once() rejects on the stream's 'error' (a directory that does not exist, no permission): one line, exit 1.
  if (!toStdout) await once(out, "open");
  const write = async (text: string) => {
    if (!out.write(text)) await once(out, "drain");
  };
  const progress = startProgress({ name: "generate", unit: "rows", total: rows });
  await write(`${PAYSIM_HEADER}\n`);
  let lastStep = 0;
  let written = 0;
  let buffer = "";
  try {
    for (const row of generatePaysimRows({ rows, seed, volumeScale: scale })) {
      buffer += `${toCsvLine(row)}\n`;
      lastStep = row.step;
      written++;
      if (buffer.length > 64 * 1024) {
        await write(buffer);
        buffer = "";
        progress.update(written);
      }
    }
    await write(buffer);
    progress.update(written);
  } finally {
    progress.stop();
  }
  if (!toStdout) {
    out.end();
    await once(out, "finish");
  }
  const ms = Math.round(performance.now() - started);
  process.stderr.write(`generate: ${rows} rows, steps 1-${lastStep}, seed ${seed}, to ${options.out} in ${ms} ms\n`);
}

runMain("generate", main);
