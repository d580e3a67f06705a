/**
 * npm run test:faults [-- extra vitest args]
 * Runs the fault scenarios (test/faults/*.test.ts: real broker, real PostgreSQL, servers and workers
 * started, stopped and killed by the tests) and prints the fault table they recorded: scenario,
 * accepted, stored, lost, duplicated, dead-lettered, time to recover. Each test asserts lost = 0 and
 * duplicated = 0 itself; this script exits with vitest's status. Test tooling, not a test: vitest
 * runs only *.test.ts files, so it never picks this file up.
 */

import { spawn } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import { faultTable, readFaultRows } from "../support/fault-results.js";

const ROOT = resolve(import.meta.dirname, "../..");
const resultsFile = resolve(ROOT, ".cache", "fault-results.jsonl");
mkdirSync(resolve(ROOT, ".cache"), { recursive: true });
rmSync(resultsFile, { force: true });

const started = performance.now();
const vitest = spawn(
  process.execPath,
  [resolve(ROOT, "node_modules/vitest/vitest.mjs"), "run", "test/faults", ...process.argv.slice(2)],
  {
    cwd: ROOT,
    env: { ...process.env, FAULT_RESULTS_FILE: resultsFile },
    stdio: "inherit",
  },
);
// Ctrl-C reaches vitest through the terminal's process group; wait for it to clean up its servers.
process.on("SIGINT", () => {});
process.on("SIGTERM", () => vitest.kill("SIGTERM"));

const code = await new Promise<number>((done) => vitest.on("exit", (exitCode, signal) => done(exitCode ?? (signal ? 1 : 0))));
const rows = readFaultRows(resultsFile);
const seconds = ((performance.now() - started) / 1000).toFixed(0);
console.log(`\nFault table (${rows.length} scenarios, ${seconds} s, results in ${resultsFile}):\n`);
console.log(rows.length ? faultTable(rows) : "(no scenario recorded a row)");
const bad = rows.filter((row) => row.lost !== 0 || row.duplicated !== 0);
if (bad.length)
  console.log(`\n${bad.length} scenario(s) lost or doubled transactions: ${bad.map((row) => row.scenario).join(", ")}`);
process.exit(code !== 0 || bad.length ? 1 : 0);
