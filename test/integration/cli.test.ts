import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { freePort } from "../../scripts/infra/index.js";

/**
 * Every script's command line, as a user meets it (each run as its own process): --help answers with the
 * options and their defaults (exit 0); a mistyped flag is one line and the usage (exit 2); a user's
 * mistake at run time (a file or a database that is not there) is one line (exit 1). Never a stack trace.
 */
const REPO = resolve(import.meta.dirname, "../..");

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(script: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ["--import", "tsx", script, ...args],
      { cwd: REPO, env: { ...process.env, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const SCRIPTS: { script: string; label: string; usage: string; args?: string[]; option: string }[] = [
  { script: "scripts/infra.ts", label: "infra", usage: "Usage: tsx scripts/infra.ts up [options]", args: ["up"], option: "" },
  { script: "scripts/seed.ts", label: "seed", usage: "Usage: npm run seed -- [options]", option: "--rows <n>" },
  {
    script: "scripts/simulate.ts",
    label: "simulate",
    usage: "Usage: npm run simulate -- [options]",
    option: "--concurrency <n>",
  },
  {
    script: "scripts/worker.ts",
    label: "worker",
    usage: "Usage: npm run worker -- [options]",
    option: "--session-timeout <seconds>",
  },
  {
    script: "scripts/generate-paysim.ts",
    label: "generate",
    usage: "Usage: npm run generate -- [options]",
    option: "--seed <n>",
  },
  { script: "scripts/start.ts", label: "start", usage: "Usage: npm start -- [options] [serverless-options...]", option: "" },
  { script: "bench/run.ts", label: "bench", usage: "Usage: npm run bench -- [options]", option: "--stages <list>" },
  {
    script: "scripts/dead-letters.ts",
    label: "dead-letters",
    usage: "Usage: npm run dead-letters -- redrive [options]",
    args: ["redrive"],
    option: "--value-file <file>",
  },
  {
    script: "scripts/replay.ts",
    label: "replay",
    usage: "Usage: npm run replay -- [options]",
    args: ["--from", "0"],
    option: "--from <position>",
  },
  { script: "scripts/verify.ts", label: "verify", usage: "Usage: npm run verify -- [options]", option: "--scope <scope>" },
];

const noStack = (text: string) => expect(text).not.toMatch(/\n\s+at .*:\d+/);

describe("every script's command line", () => {
  it.each(SCRIPTS)(
    "$label: --help (exit 0) and a mistyped flag (one line and the usage, exit 2)",
    async (cli) => {
      const [help, wrong] = await Promise.all([
        run(cli.script, [...(cli.args ?? []), "--help"]),
        run(cli.script, [...(cli.args ?? []), "--bogus-flag"]),
      ]);
      expect(help.code, help.stderr).toBe(0);
      expect(help.stdout.startsWith(cli.usage), help.stdout).toBe(true);
      expect(help.stdout).toContain(cli.option);
      expect(help.stdout).toContain("-h, --help");
      expect(wrong.code, wrong.stderr).toBe(2);
      expect(wrong.stdout).toBe("");
      const [first, blank, usage] = wrong.stderr.split("\n");
      expect(first).toBe(`${cli.label}: unknown option '--bogus-flag'`);
      expect(blank).toBe("");
      expect(usage).toBe(cli.usage);
      noStack(wrong.stderr);
    },
    120_000,
  );

  it("a malformed value names the option and what it expects", async () => {
    const [seed, worker, generate] = await Promise.all([
      run("scripts/seed.ts", ["--rows", "ten"]),
      run("scripts/worker.ts", ["--batch-size", "0"]),
      run("scripts/generate-paysim.ts", ["--scale", "-1"]),
    ]);
    expect(seed.code).toBe(2);
    expect(seed.stderr.split("\n")[0]).toBe(
      "seed: option '--rows <n>' argument 'ten' is invalid. expected a positive whole number.",
    );
    expect(worker.code).toBe(2);
    expect(worker.stderr.split("\n")[0]).toMatch(/^worker: .*batchSize must be a number from 1 to 10000 \(got "0"\)$/);
    expect(generate.code).toBe(2);
    expect(generate.stderr.split("\n")[0]).toBe(
      "generate: option '--scale <x>' argument '-1' is invalid. expected a positive number.",
    );
  }, 120_000);

  it("a user's mistake at run time is one line, exit 1", async () => {
    const dir = mkdtempSync(join(tmpdir(), "txlog-cli-"));
    const closedPort = await freePort();
    const nowhere = `postgres://postgres:secret@127.0.0.1:${closedPort}/txlog`;
    const [generate, simulate, seed] = await Promise.all([
      run("scripts/generate-paysim.ts", ["--rows", "10", "--out", join(dir, "no/such/dir.csv")]),
      run("scripts/simulate.ts", ["--file", join(dir, "nope.csv"), "--url", "http://127.0.0.1:9"]),
      run("scripts/seed.ts", [], { DATABASE_URL: nowhere }),
    ]);
    expect(generate).toMatchObject({
      code: 1,
      stderr: `generate failed: ${join(dir, "no/such/dir.csv")}: no such file or directory\n`,
    });
    expect(simulate).toMatchObject({ code: 1, stderr: `simulate failed: ${join(dir, "nope.csv")}: no such file\n` });
    expect(seed.code).toBe(1);
    expect(seed.stderr).toBe(
      `seed failed: PostgreSQL does not answer at postgres://postgres:***@127.0.0.1:${closedPort}/txlog (start it with npm run infra:up, or set DATABASE_URL)\n`,
    );
  }, 120_000);
});
