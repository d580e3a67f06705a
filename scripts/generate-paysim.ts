/**
 * npm run generate -- [--rows 10000] [--seed 2] [--scale 0.25] [--out paysim.csv]
 * Writes a PaySim-like CSV (see scripts/paysim/model.ts) as a stream; the same seed gives the same file.
 */

import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { parseArgs } from "node:util";
import { generatePaysimRows, PAYSIM_HEADER, toCsvLine } from "./paysim/generator.js";
import { DEFAULT_VOLUME_SCALE } from "./paysim/model.js";

const { values } = parseArgs({
  options: {
    rows: { type: "string", default: "10000" },
    seed: { type: "string", default: "2" },
    scale: { type: "string", default: String(DEFAULT_VOLUME_SCALE) },
    out: { type: "string", default: "paysim.csv" },
  },
});

function wholeNumber(name: string, text: string): number {
  if (!/^\d+$/.test(text)) throw new Error(`--${name}: expected a whole number, got ${JSON.stringify(text)}`);
  return Number(text);
}

async function main(): Promise<void> {
  const rows = wholeNumber("rows", values.rows);
  const seed = wholeNumber("seed", values.seed);
  const scale = Number(values.scale);
  if (!(scale > 0)) throw new Error(`--scale: expected a positive number, got ${JSON.stringify(values.scale)}`);
  const started = performance.now();
  const out = values.out === "-" ? process.stdout : createWriteStream(values.out);
  const write = async (text: string) => {
    if (!out.write(text)) await once(out, "drain");
  };
  await write(`${PAYSIM_HEADER}\n`);
  let lastStep = 0;
  let buffer = "";
  for (const row of generatePaysimRows({ rows, seed, volumeScale: scale })) {
    buffer += `${toCsvLine(row)}\n`;
    lastStep = row.step;
    if (buffer.length > 64 * 1024) {
      await write(buffer);
      buffer = "";
    }
  }
  await write(buffer);
  if (out !== process.stdout) {
    out.end();
    await once(out, "finish");
  }
  const ms = Math.round(performance.now() - started);
  process.stderr.write(`generate: ${rows} rows, steps 1-${lastStep}, seed ${seed}, to ${values.out} in ${ms} ms\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`generate failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
