import { Command, CommanderError, InvalidArgumentError } from "@commander-js/extra-typings";

/**
 * The command line of every script (a library, not a CLI): commander parses, and this module makes every
 * script answer the same way. `--help` prints the usage, the options and their defaults (exit 0); an
 * unknown or malformed flag prints one line naming the problem, then the usage (exit 2), never a stack.
 */

/** Exit code of a usage mistake (as getopt-style tools do); 1 stays for a run that failed. */
export const USAGE_EXIT_CODE = 2;

/**
 * A command named as it is typed (`npm run seed --`), so its help's Usage line can be copied as is.
 * `label` prefixes error lines ("seed: unknown option '--bogus'").
 */
export function cliCommand(invocation: string, description: string, label?: string) {
  const command = new Command(invocation).description(description).helpOption("-h, --help", "show this help and exit");
  if (label) labels.set(command, label);
  return command;
}

const labels = new WeakMap<object, string>();

/** The short name error lines start with: the last word of the invocation that is not "--". */
function labelOf(command: object & { name(): string }): string {
  const known = labels.get(command);
  if (known) return known;
  const words = command
    .name()
    .split(" ")
    .filter((word) => word !== "--");
  return words.at(-1) ?? "txlog";
}

interface AnyCommand {
  name(): string;
  commands: readonly AnyCommand[];
  parent: AnyCommand | null;
  exitOverride(): unknown;
  showHelpAfterError(show?: boolean | string): unknown;
  configureOutput(output: object): unknown;
  helpInformation(): string;
}

function configure(command: AnyCommand, label: string): void {
  labels.set(command, label);
  command.exitOverride();
  command.showHelpAfterError();
  command.configureOutput({
    // commander's messages start with "error: "; ours name the script instead, and stay on one line
    // (commander puts "(Did you mean --rows?)" on a second).
    outputError: (message: string, write: (text: string) => void) =>
      write(
        `${label}: ${message
          .replace(/^error: /, "")
          .trim()
          .replace(/\s*\n\s*/g, " ")}\n`,
      ),
  });
  for (const sub of command.commands) configure(sub, label);
}

/**
 * Parses `argv` (default: the process's arguments) or exits: 0 after --help, 2 after a usage mistake
 * (commander has printed the one-line reason and the usage). Returns the command for its opts()/args.
 */
export function parseOrExit<
  C extends { name(): string; helpInformation(): string; parse(argv: string[], options: { from: "user" }): unknown },
>(command: C, argv: readonly string[] = process.argv.slice(2)): C {
  const label = labelOf(command);
  configure(command as unknown as AnyCommand, label);
  const commands = (command as unknown as AnyCommand).commands;
  if (commands.length > 0 && argv.length === 0) {
    const names = commands.map((sub) => sub.name());
    usageError(command, `missing command (${names.join(", ")})`);
  }
  try {
    command.parse([...argv], { from: "user" });
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    process.exit(error.exitCode === 0 ? 0 : USAGE_EXIT_CODE);
  }
  return command;
}

/**
 * A mistake found after parsing (two options that only make sense together, a value another option
 * rules out): the same one line and usage as commander's own, exit 2.
 */
export function usageError(command: { name(): string; helpInformation(): string }, message: string): never {
  process.stderr.write(`${labels.get(command) ?? labelOf(command)}: ${message}\n\n${command.helpInformation()}`);
  process.exit(USAGE_EXIT_CODE);
}

// Option-argument parsers: each throws InvalidArgumentError, which commander reports as one line
// ("option '--rows <n>' argument 'ten' is invalid. expected a positive whole number").

/** 1, 2, 3, ... */
export function positiveInteger(text: string): number {
  if (!/^[1-9]\d*$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new InvalidArgumentError("expected a positive whole number.");
  }
  return Number(text);
}

/** 0, 1, 2, ... */
export function wholeNumber(text: string): number {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) throw new InvalidArgumentError("expected a whole number.");
  return Number(text);
}

/** A number greater than 0 (decimals allowed). */
export function positiveNumber(text: string): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value <= 0) throw new InvalidArgumentError("expected a positive number.");
  return value;
}

/** A parser for a number of `unit` within [min, max] (decimals allowed). */
export function numberBetween(min: number, max: number, unit = "") {
  return (text: string): number => {
    const value = Number(text);
    if (text.trim() === "" || !Number.isFinite(value) || value < min || value > max) {
      throw new InvalidArgumentError(`expected ${min} to ${max}${unit ? ` ${unit}` : ""}.`);
    }
    return value;
  };
}

/** An absolute http(s) URL. */
export function httpUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidArgumentError("expected a URL such as http://localhost:3000.");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new InvalidArgumentError("expected an http:// or https:// URL.");
  return text;
}

const DURATION_UNITS_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * An instant: an ISO 8601 date or date-time (2026-11-30, 2026-11-30T08:00:00Z), or a time ago as a
 * number and unit (90s, 30m, 2h, 7d) counted from `now`.
 */
export function parseInstant(text: string, now: Date = new Date()): Date {
  const ago = /^(\d+)([smhd])$/.exec(text);
  if (ago) return new Date(now.getTime() - Number(ago[1]) * (DURATION_UNITS_MS[ago[2] as string] as number));
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)) {
    const at = new Date(text);
    if (!Number.isNaN(at.getTime())) return at;
  }
  throw new InvalidArgumentError("expected an ISO date-time (2026-11-30T08:00:00Z) or a time ago (30m, 2h, 7d).");
}
