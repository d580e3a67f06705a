import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const SCRIPT = "test/fixtures/kafkajs-runner-stop.ts";

/** Runs the fixture; what it printed and how it ended (killed: still running after `limitMs`, its event loop spinning). */
function runFixture(args: string[], limitMs = 8_000): Promise<{ stdout: string; killed: boolean; code: number | null }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ["--import", "tsx", SCRIPT, ...args], { cwd: ROOT });
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill("SIGKILL");
    }, limitMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      done({ stdout, killed, code });
    });
  });
}

describe("KafkaJS's consumer Runner stopped while its fetchers are rebuilt (kafkajs-runner-fix)", () => {
  it("stops, and the process goes on serving timers", async () => {
    expect(await runFixture([])).toEqual({ stdout: "stopped\n", killed: false, code: 0 });
  }, 20_000);

  it("without the fix, the same stop leaves the event loop spinning (the fixture is killed, its timer never fires)", async () => {
    expect(await runFixture(["unfixed"], 5_000)).toEqual({ stdout: "", killed: true, code: null });
  }, 20_000);
});
