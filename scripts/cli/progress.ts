import { SingleBar } from "cli-progress";
import pino from "pino";

/**
 * Progress of a long run, one way for every script: a cli-progress bar on stderr when stderr is a
 * terminal, else a JSON line (pino, on stderr: stdout keeps the script's output) every `everyMs`.
 * The script prints its summary after stop().
 */
export interface ProgressOptions {
  /** The script ("seed"); JSON lines carry it as `component`. */
  name: string;
  /** What is counted ("rows", "tx"). */
  unit: string;
  /** The expected count; 0 when unknown (the bar then shows the count only). */
  total: number;
  /** Extra figures shown on the bar and in the JSON lines, with their starting values (names: letters, digits, _). */
  fields?: Record<string, number | string>;
  /** How the bar shows them (default "name {name} | ..."), e.g. "{rate} tx/s". */
  fieldsFormat?: string;
  everyMs?: number;
  /** Default: process.stderr.isTTY. */
  tty?: boolean;
}

export interface ProgressReporter {
  update(value: number, fields?: Record<string, number | string>): void;
  /** Sets the expected count once it is known. */
  setTotal(total: number): void;
  stop(): void;
}

let progressLogger: pino.Logger | undefined;
/** JSON lines on stderr, written synchronously so none is lost when the script exits. */
function jsonLines(): pino.Logger {
  // Its own level: a CLI may quieten the runtime's logs (cli/local-environment.ts) and still report progress.
  progressLogger ??= pino({ level: "info", base: { service: "txlog" } }, pino.destination({ fd: 2, sync: true }));
  return progressLogger;
}

export function startProgress(options: ProgressOptions): ProgressReporter {
  const fields = { ...options.fields };
  const started = performance.now();
  let total = options.total;
  let value = 0;
  if (options.tty ?? process.stderr.isTTY) {
    const extra =
      options.fieldsFormat ??
      Object.keys(fields)
        .map((name) => `${name} {${name}}`)
        .join(" | ");
    const bar = new SingleBar({
      format: `${options.name} [{bar}] {value}/{total} ${options.unit} | {percentage}%${extra ? ` | ${extra}` : ""} | {duration_formatted}`,
      hideCursor: true,
      stream: process.stderr,
    });
    // Drawn from the first update on: a run over before it has anything to show draws nothing.
    let drawn = false;
    return {
      update: (next, more) => {
        value = next;
        if (!drawn) {
          drawn = true;
          bar.start(Math.max(total, next), 0, fields);
        }
        if (next > total) {
          total = next;
          bar.setTotal(next);
        }
        bar.update(next, more);
      },
      setTotal: (next) => {
        total = next;
        if (drawn) bar.setTotal(next);
      },
      stop: () => {
        if (drawn) bar.stop();
      },
    };
  }
  const log = jsonLines().child({ component: options.name });
  const everyMs = options.everyMs ?? 2_000;
  let lastLine = started;
  const line = () => {
    const elapsedMs = Math.round(performance.now() - started);
    log.info({ done: value, total: total || null, unit: options.unit, ...fields, elapsedMs }, "progress");
  };
  return {
    update: (next, more) => {
      value = next;
      Object.assign(fields, more);
      const now = performance.now();
      if (now - lastLine >= everyMs) {
        lastLine = now;
        line();
      }
    },
    setTotal: (next) => {
      total = next;
    },
    stop: () => {},
  };
}
