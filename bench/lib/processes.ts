import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/** A server or worker the bench started: its own process group, output kept in a log file. */
export interface ManagedProcess {
  name: string;
  pid: number;
  child: ChildProcess;
  logFile: string;
  /** Set once it exited (before we stopped it, it is a failure). */
  exited: Promise<number | null>;
  stop(graceMs?: number): Promise<void>;
}

/** Every process the bench started and has not stopped yet, so an interrupted run can stop them all. */
const running = new Set<ManagedProcess>();

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((managed) => managed.stop(2_000)));
}

export function startProcess(
  name: string,
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; logFile: string },
): ManagedProcess {
  // Output goes straight to a file, not through a pipe to this process: Node writes to pipes
  // synchronously, so a bench busy generating load would otherwise slow the server it measures.
  const log = openSync(options.logFile, "a");
  // detached: a process group of its own, so stopping it also stops what it forked (esbuild, workers).
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, detached: true, stdio: ["ignore", log, log] });
  closeSync(log);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${name}: could not start ${command}`);
  const exited = new Promise<number | null>((resolveExit) => child.once("exit", (code) => resolveExit(code)));
  let stopping: Promise<void> | undefined;
  const managed: ManagedProcess = {
    name,
    pid,
    child,
    logFile: options.logFile,
    exited,
    stop(graceMs = 10_000) {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          signalGroup(pid, "SIGTERM");
          const timedOut = await Promise.race([exited.then(() => false), sleep(graceMs).then(() => true)]);
          if (timedOut) signalGroup(pid, "SIGKILL");
          await exited;
        }
        // Children of the group that outlived the leader (a forked esbuild, a worker): end them too.
        signalGroup(pid, "SIGKILL");
        running.delete(managed);
      })();
      return stopping;
    },
  };
  running.add(managed);
  return managed;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is already gone
  }
}

export async function portAnswers(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolveAnswer) => {
    const socket = connect({ port, host });
    socket.once("connect", () => {
      socket.destroy();
      resolveAnswer(true);
    });
    socket.once("error", () => resolveAnswer(false));
  });
}

/** Polls `check` until it is true; fails early when `process` exits, or after `timeoutMs`. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean> | boolean,
  options: { timeoutMs: number; intervalMs?: number; process?: ManagedProcess },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let exitCode: number | null | undefined;
  options.process?.exited.then((code) => {
    exitCode = code;
  });
  while (Date.now() < deadline) {
    if (await check()) return;
    if (exitCode !== undefined) {
      throw new Error(`${what}: ${options.process?.name} exited with code ${exitCode}; see ${options.process?.logFile}`);
    }
    await sleep(options.intervalMs ?? 100);
  }
  const hint = options.process ? `; see ${options.process.logFile}` : "";
  throw new Error(`${what}: not after ${options.timeoutMs} ms${hint}`);
}
