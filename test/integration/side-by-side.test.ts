import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { config, requiredApiKey } from "../../lib/config.js";
import { freePort } from "../../scripts/infra/index.js";

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "../..");
const SERVERLESS_BIN = join(ROOT, "node_modules/serverless/bin/serverless.js");
const WORK_FOLDERS = join(ROOT, ".esbuild");
/** A record of test/fixtures/msk-event.json, which `npm run invoke:consume` stores. */
const FIXTURE_ID = "01890a5d-ac96-774b-bcce-b302099a8057";

/**
 * This process's environment as a developer's shell has it: no esbuild work folder and no Lambda port
 * chosen (the defaults are what is under test), the test database and topics from the global setup.
 */
function developerEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { ESBUILD_WORK_FOLDER: _folder, LAMBDA_PORT: _lambda, ...rest } = process.env;
  return { ...rest, SLS_TELEMETRY_DISABLED: "1", SLS_NOTIFICATIONS_MODE: "off", ...extra };
}

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** `npm start` as package.json runs it (node --expose-gc --import tsx scripts/start.ts), in a process group of its own. */
function npmStart(env: NodeJS.ProcessEnv): Started {
  const child = spawn(process.execPath, ["--expose-gc", "--import", "tsx", "scripts/start.ts"], {
    cwd: ROOT,
    // info: start.ts's log line with the server's pid (the global setup sets warn).
    env: { ...env, LOG_LEVEL: "info" },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const keep = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  return { child, output: () => output, exited };
}

/** The pid start.ts logged for `serverless offline start` (its own process group). */
function serverPid(output: string): number | undefined {
  const line = output.split("\n").find((text) => text.includes('"step":"serverless"'));
  return line ? (JSON.parse(line) as { pid: number }).pid : undefined;
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

describe("npm start beside sls package, invoke local and a second npm start", () => {
  let first: Started;
  let baseUrl: string;
  let httpPort: number;
  const out = mkdtempSync(join(tmpdir(), "txlog-side-by-side-"));
  const get = (path: string) => fetch(`${baseUrl}${path}`, { headers: { "x-api-key": requiredApiKey(config) } });

  beforeAll(async () => {
    httpPort = await freePort();
    baseUrl = `http://127.0.0.1:${httpPort}`;
    first = npmStart(developerEnv({ HTTP_PORT: String(httpPort), WEBSOCKET_PORT: String(await freePort()) }));
    const deadline = Date.now() + 150_000;
    while (!first.output().includes("txlog is up")) {
      if (first.child.exitCode !== null || Date.now() > deadline)
        throw new Error(`npm start did not come up:\n${first.output()}`);
      await sleep(250);
    }
  }, 180_000);

  afterAll(async () => {
    const pid = serverPid(first.output());
    // start.ts passes SIGTERM on to the server, which stops its trigger and exits; start.ts exits with it.
    first.child.kill("SIGTERM");
    const stopped = await Promise.race([first.exited.then(() => true), sleep(30_000).then(() => false)]);
    if (!stopped) {
      killGroup(pid, "SIGKILL");
      killGroup(first.child.pid, "SIGKILL");
    }
    rmSync(out, { recursive: true, force: true });
    // The server's work folder goes with it.
    expect(existsSync(join(WORK_FOLDERS, `offline-start.pid-${pid}`))).toBe(false);
  }, 60_000);

  it("keeps answering every route, with the same bodies, while and after the others run", async () => {
    // Loaded before the others run (the first request of a route loads its bundle).
    const before = await get("/health");
    expect(before.status).toBe(200);
    expect(await before.json()).toMatchObject({ status: "up" });
    const pid = serverPid(first.output());
    expect(pid).toBeGreaterThan(0);
    expect(existsSync(join(WORK_FOLDERS, `offline-start.pid-${pid}`))).toBe(true);

    // A work folder left by a process killed with SIGKILL: the next command removes it.
    const gone = spawn(process.execPath, ["-e", ""]);
    await new Promise((done) => gone.once("exit", done));
    const abandoned = join(WORK_FOLDERS, `package.pid-${gone.pid}`);
    mkdirSync(abandoned, { recursive: true });

    // `npx sls package`, with serverless.yml's defaults (no ESBUILD_WORK_FOLDER).
    const packaged = spawn(process.execPath, [SERVERLESS_BIN, "package", "--package", join(out, "package")], {
      cwd: ROOT,
      env: developerEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let packageOutput = "";
    packaged.stdout.on("data", (chunk: Buffer) => {
      packageOutput += chunk.toString();
    });
    packaged.stderr.on("data", (chunk: Buffer) => {
      packageOutput += chunk.toString();
    });
    const packageCode = await new Promise<number | null>((done) => packaged.once("exit", done));
    expect(packageCode, packageOutput).toBe(0);
    expect(existsSync(join(out, "package", "cloudformation-template-update-stack.json"))).toBe(true);
    expect(existsSync(join(WORK_FOLDERS, `package.pid-${packaged.pid}`))).toBe(false);
    expect(existsSync(abandoned)).toBe(false);

    // `npm run invoke:consume`: the fixture's records into the test database.
    const invoked = await run("npm", ["run", "invoke:consume"], { cwd: ROOT, env: developerEnv(), timeout: 120_000 });
    expect(invoked.stdout).toMatch(/"inserted": \d/);
    expect(readdirSync(WORK_FOLDERS).filter((name) => name.startsWith("invoke-local.pid-"))).toEqual([]);

    // A second npm start on the same port: one line, at once, exit 1, nothing started or bundled.
    const startedAt = Date.now();
    const second = npmStart(developerEnv({ HTTP_PORT: String(httpPort), WEBSOCKET_PORT: String(await freePort()) }));
    const secondCode = await second.exited;
    expect(secondCode).toBe(1);
    expect(second.output()).toBe(
      `start failed: 127.0.0.1:${httpPort} (HTTP_PORT) is already in use, by another npm start or another program: stop it, or set HTTP_PORT to a free port\n`,
    );
    expect(Date.now() - startedAt).toBeLessThan(15_000);

    // Routes loaded before, and routes whose bundles are loaded only now.
    const health = await get("/health");
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: "up", checks: { kafka: { status: "up" }, database: { status: "up" } } });
    const openapi = await get("/openapi.json");
    expect(openapi.status).toBe(200);
    expect(await openapi.json()).toMatchObject({ openapi: "3.1.0" });
    const docs = await get("/docs");
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain("swagger-ui");
    const stored = await get(`/transactions/${FIXTURE_ID}`);
    expect(stored.status).toBe(200);
    expect(await stored.json()).toMatchObject({ id: FIXTURE_ID, amount: "9839.64" });
    const reports = await get("/reports?limit=1");
    expect(reports.status).toBe(200);
    expect(await reports.json()).toMatchObject({ items: expect.any(Array) });

    // Nothing went missing under the server, and no Node version warned of anything.
    expect(first.output()).not.toContain("Cannot find module");
    expect(first.output()).not.toMatch(/\(node:\d+\) (\[[A-Z0-9]+\] )?\w*Warning/);
  }, 300_000);
});
