import type { Command } from "@commander-js/extra-typings";
import type { KafkaMessage } from "kafkajs";
import { afterEach, describe, expect, it, vi } from "vitest";
import { cliCommand, numberBetween, parseInstant, parseOrExit, positiveInteger } from "../../scripts/cli/args.js";
import { CliError, describeError, redactUrl } from "../../scripts/cli/run.js";
import { rowOfDeadLetterMessage } from "../../scripts/dead-letters/import.js";
import { decodeValue, renderCounts, renderTable, showEntry } from "../../scripts/dead-letters/render.js";
import type { DeadLetterRow } from "../../scripts/dead-letters/store.js";
import { parsePosition } from "../../scripts/replay/range.js";

/** parseOrExit with process.exit and stdout/stderr captured: what a user would see, and the exit code. */
function parse(command: Command<unknown[], Record<string, unknown>>, argv: string[]) {
  const output = { stdout: "", stderr: "", code: undefined as number | undefined };
  vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    output.stdout += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
    output.stderr += String(chunk);
    return true;
  });
  vi.spyOn(process, "exit").mockImplementation((code) => {
    output.code = Number(code);
    throw new Error("exited");
  });
  try {
    parseOrExit(command, argv);
  } catch (error) {
    if ((error as Error).message !== "exited") throw error;
  } finally {
    vi.restoreAllMocks();
  }
  return output;
}

const seedLike = () =>
  cliCommand("npm run seed --", "Stores rows.")
    .option("--rows <n>", "rows to store", positiveInteger, 100)
    .option("--file <path>", "the CSV", "paysim.csv")
    .option("--timeout <seconds>", "how long", numberBetween(1, 900, "seconds"), 60);

afterEach(() => vi.restoreAllMocks());

describe("parseOrExit", () => {
  it("returns the parsed options with their defaults", () => {
    const command = seedLike();
    expect(parse(command, ["--rows", "5"]).code).toBeUndefined();
    expect(command.opts()).toEqual({ rows: 5, file: "paysim.csv", timeout: 60 });
  });

  it("--help prints the usage, every option and its default on stdout, exit 0", () => {
    const { code, stdout, stderr } = parse(seedLike(), ["--help"]);
    expect(code).toBe(0);
    expect(stderr).toBe("");
    expect(stdout).toMatch(/^Usage: npm run seed -- \[options\]/);
    expect(stdout).toMatch(/--rows <n> +rows to store \(default: 100\)/);
    expect(stdout).toMatch(/--file <path> +the CSV \(default: "paysim.csv"\)/);
  });

  it.each([
    [["--rowz", "5"], "seed: unknown option '--rowz' (Did you mean --rows?)"],
    [["--rows", "ten"], "seed: option '--rows <n>' argument 'ten' is invalid. expected a positive whole number."],
    [["--rows", "0"], "seed: option '--rows <n>' argument '0' is invalid. expected a positive whole number."],
    [["--timeout", "901"], "seed: option '--timeout <seconds>' argument '901' is invalid. expected 1 to 900 seconds."],
    [["--rows"], "seed: option '--rows <n>' argument missing"],
    [["extra"], "seed: too many arguments. Expected 0 arguments but got 1."],
  ])("%j: one line saying what is wrong, then the usage, exit 2", (argv, line) => {
    const { code, stdout, stderr } = parse(seedLike(), argv);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    const [first, blank, usage] = stderr.split("\n");
    expect(first).toBe(line);
    expect(blank).toBe("");
    expect(usage).toBe("Usage: npm run seed -- [options]");
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it("a command with subcommands and none given: one line naming them, exit 2", () => {
    const program = cliCommand("npm run dead-letters --", "Dead letters.");
    program.command("list").action(() => {});
    program.command("show").action(() => {});
    const { code, stderr } = parse(program, []);
    expect(code).toBe(2);
    expect(stderr.split("\n")[0]).toBe("dead-letters: missing command (list, show)");
  });
});

describe("option values", () => {
  const now = new Date("2026-11-30T12:00:00Z");

  it("instants: ISO date-times, or a time ago", () => {
    expect(parseInstant("2026-11-30T08:00:00Z", now).toISOString()).toBe("2026-11-30T08:00:00.000Z");
    expect(parseInstant("2026-11-30", now).toISOString()).toBe("2026-11-30T00:00:00.000Z");
    expect(parseInstant("30m", now).toISOString()).toBe("2026-11-30T11:30:00.000Z");
    expect(parseInstant("7d", now).toISOString()).toBe("2026-11-23T12:00:00.000Z");
    for (const bad of ["yesterday", "2026-13-01", "30", "-1h", ""])
      expect(() => parseInstant(bad, now)).toThrow(/expected an ISO/);
  });

  it("replay positions: an offset or an instant", () => {
    expect(parsePosition("0")).toEqual({ offset: 0 });
    expect(parsePosition("1234")).toEqual({ offset: 1234 });
    expect(parsePosition("2026-11-30T08:00:00+01:00")).toEqual({ at: new Date("2026-11-30T07:00:00Z") });
    for (const bad of ["-1", "1.5", "now", "2026-11-31x"]) expect(() => parsePosition(bad)).toThrow(/expected an offset/);
  });
});

describe("errors in one line", () => {
  it("names the file, the address, the cause; never a password", () => {
    const missing = Object.assign(new Error("ENOENT: no such file or directory, open 'x.csv'"), {
      code: "ENOENT",
      path: "x.csv",
    });
    expect(describeError(missing)).toBe("x.csv: no such file or directory");
    const refused = (port: number) =>
      Object.assign(new Error(`connect ECONNREFUSED 127.0.0.1:${port}`), { code: "ECONNREFUSED", address: "127.0.0.1", port });
    expect(describeError(new AggregateError([refused(5432), refused(5432)], ""))).toBe(
      "cannot connect to 127.0.0.1:5432 (ECONNREFUSED)",
    );
    const kafka = Object.assign(new Error("Connection error"), { name: "KafkaJSNumberOfRetriesExceeded" });
    (kafka as Error & { cause: unknown }).cause = refused(9092);
    expect(describeError(kafka)).toBe("Connection error: cannot connect to 127.0.0.1:9092 (ECONNREFUSED)");
    expect(describeError(new CliError("bad\n  thing at postgres://app:s3cret@db:5432/x"))).toBe(
      "bad thing at postgres://app:***@db:5432/x",
    );
    expect(redactUrl("postgres://postgres@127.0.0.1:5432/txlog")).toBe("postgres://postgres@127.0.0.1:5432/txlog");
  });
});

describe("dead letters: import and render", () => {
  const message = (headers: Record<string, string>, value: string | null = '{"id":1}'): KafkaMessage => ({
    key: Buffer.from("C1\u0000"),
    value: value === null ? null : Buffer.from(value),
    offset: "7",
    timestamp: "1796000000000",
    attributes: 0,
    headers,
  });

  it("a dead-letter topic message becomes a row keyed by its source offset", () => {
    const row = rowOfDeadLetterMessage(
      message({
        "dead-letter-reason": "function-error",
        "dead-letter-detail": "boom",
        "source-topic": "transactions",
        "source-partition": "2",
        "source-offset": "41",
        "source-timestamp": "1795999999000",
      }),
    );
    expect(row).toEqual({
      topic: "transactions",
      partition: 2,
      offset: 41,
      key: "C1\\u0000",
      value: Buffer.from('{"id":1}').toString("base64"),
      reason: "function-error",
      detail: "boom",
      createdAt: new Date(1796000000000),
    });
  });

  it("a reference without the value keeps no value and says why; a message without a source is not a dead letter", () => {
    const reference = rowOfDeadLetterMessage(
      message(
        {
          "dead-letter-reason": "function-error",
          "dead-letter-detail": "boom",
          "dead-letter-value": "omitted (600000 bytes with headers)",
          "source-topic": "transactions",
          "source-partition": "0",
          "source-offset": "3",
          "source-timestamp": "1795999999000",
        },
        null,
      ),
    );
    expect(reference).toMatchObject({ value: null, detail: "boom; value omitted (600000 bytes with headers)" });
    expect(rowOfDeadLetterMessage(message({ "dead-letter-reason": "invalid" }))).toBeUndefined();
  });

  const row = (values: Partial<DeadLetterRow>): DeadLetterRow => ({
    id: 12,
    topic: "transactions",
    partition: 1,
    offset: 99,
    key: "C1",
    value: Buffer.from('{"amount": 0.10000000000000000055}').toString("base64"),
    reason: "invalid",
    detail: "transaction.amount: at most 2 decimal places",
    createdAt: new Date("2026-11-30T08:00:00Z"),
    redrivenAt: null,
    transactionId: null,
    ...values,
  });

  it("shows a text value exactly as written (JSON is never re-serialised), binary as base64", () => {
    expect(showEntry(row({}))).toMatchObject({
      valueText: '{"amount": 0.10000000000000000055}',
      valueIsJson: true,
      valueBytes: 34,
    });
    const binary = Buffer.from([0xff, 0xfe, 0x00]).toString("base64");
    expect(showEntry(row({ value: binary }))).toMatchObject({ valueBase64: binary, valueBytes: 3 });
    expect(decodeValue(Buffer.from("a\u0000b").toString("base64"))).toEqual({ bytes: 3 });
    expect(decodeValue(null)).toBeUndefined();
  });

  it("tables fit the terminal; counts say what matches", () => {
    const table = renderTable(
      [row({}), row({ id: 13, redrivenAt: new Date("2026-11-30T09:00:00Z"), detail: "x".repeat(500) })],
      100,
    );
    const lines = table.split("\n");
    expect(lines[0]).toMatch(/^id +dead-lettered \(UTC\) +reason +source +key +redriven +detail$/);
    expect(lines[2]).toContain("2026-11-30 09:00:00");
    expect(lines.every((line) => line.length <= 100)).toBe(true);
    expect(
      renderCounts([
        { reason: "invalid", count: 3, pending: 1 },
        { reason: "undecodable", count: 1, pending: 1 },
      ]),
    ).toBe("4 dead letters match, 2 never redriven: invalid 3 (1 not redriven), undecodable 1");
  });
});
