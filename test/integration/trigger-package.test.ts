import { type ChildProcess, execFile, spawn } from "node:child_process";
import { cpSync, existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import type { MSKEvent, MSKRecord } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../scripts/infra/index.js";
import { eventually } from "../support/fault-infra.js";
import { useKafkaFixture } from "../support/kafka-fixture.js";

/**
 * The trigger as a stranger gets it: `npm pack` of packages/serverless-offline-kafka-trigger, installed from
 * the tarball into a copy of examples/offline-kafka-service (a plain JavaScript handler, no txlog code) outside
 * this repository, and run by that service's own `serverless offline start` against the real broker.
 */
const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "../..");
const PACKAGE = join(ROOT, "packages/serverless-offline-kafka-trigger");
const EXAMPLE = join(ROOT, "examples/offline-kafka-service");
/** The msk event's cluster ARN in the example's serverless.yml. */
const EXAMPLE_ARN = "arn:aws:kafka:eu-west-1:123456789012:cluster/demo/00000000-0000-0000-0000-000000000000-1";
const BROKERS = process.env.KAFKA_BROKERS ?? "127.0.0.1:9092";

/** What the files a tarball may hold look like: the build, the CommonJS plugin and the package's documents. */
const PACKED_FILE = /^(dist\/[a-z-]+\.(js|d\.ts)|plugin\.cjs|package\.json|README\.md|CHANGELOG\.md|LICENSE)$/;

/** A shell's environment: without npm's script variables (vitest may run under `npm test`) or loaders of this repo. */
function outsideEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name) && name !== "NODE_OPTIONS" && !name.startsWith("TSX_")),
  );
  return { ...env, SLS_TELEMETRY_DISABLED: "1", SLS_NOTIFICATIONS_MODE: "off", ...extra };
}

interface PackResult {
  filename: string;
  files: { path: string }[];
}

async function npmPack(args: string[]): Promise<PackResult> {
  const { stdout } = await run("npm", ["pack", "--json", ...args], { cwd: PACKAGE, env: outsideEnv(), maxBuffer: 16 << 20 });
  // prepack's tsc may print before the JSON document.
  const [result] = JSON.parse(stdout.slice(stdout.indexOf("["))) as PackResult[];
  if (!result) throw new Error(`npm pack printed no result:\n${stdout}`);
  return result;
}

/** Import specifiers of a built module (static, dynamic and require). */
function specifiers(text: string): string[] {
  const patterns = [/\bfrom\s+["']([^"']+)["']/g, /\bimport\s*\(\s*["']([^"']+)["']/g, /\brequire\s*\(\s*["']([^"']+)["']/g];
  return patterns.flatMap((pattern) => [...text.matchAll(pattern)].map((match) => match[1] as string));
}

const { admin, producer, newTopic } = useKafkaFixture("test.trigger-package");
let work: string;
let service: string;
let packed: PackResult;
const timings: Record<string, number> = {};

async function timed<T>(label: string, step: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await step();
  } finally {
    timings[label] = Date.now() - started;
  }
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "trigger-package-"));
  service = join(work, "offline-kafka-service");
  // prepack builds dist/ with tsc; the tarball lands outside the repository.
  packed = await timed("npm pack", () => npmPack(["--pack-destination", work]));
  cpSync(EXAMPLE, service, {
    recursive: true,
    filter: (source) => !/[/\\](node_modules|\.serverless)$|\.tgz$|batches\.jsonl$/.test(source),
  });
  cpSync(join(work, packed.filename), join(service, "serverless-offline-kafka-trigger.tgz"));
  // The machine's npm cache (the repository's install filled it): a network fetch only for what it lacks.
  await timed("npm install", () =>
    run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund"], {
      cwd: service,
      env: outsideEnv(),
      timeout: 300_000,
      maxBuffer: 16 << 20,
    }),
  );
}, 360_000);

afterAll(() => {
  console.log(
    `[trigger-package] ${Object.entries(timings)
      .map(([step, ms]) => `${step} ${(ms / 1000).toFixed(1)} s`)
      .join(", ")}`,
  );
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("the packed trigger package", () => {
  it("holds the build, the plugin and its documents: no tests, no sources, nothing of txlog", async () => {
    const dryRun = await npmPack(["--dry-run"]);
    const paths = dryRun.files.map(({ path }) => path).sort();
    expect(packed.files.map(({ path }) => path).sort()).toEqual(paths);
    expect(paths.filter((path) => !PACKED_FILE.test(path))).toEqual([]);
    expect(paths.filter((path) => /test|fixture|\.ts$/.test(path) && !path.endsWith(".d.ts"))).toEqual([]);
    expect(paths).toEqual(expect.arrayContaining(["dist/index.js", "dist/index.d.ts", "plugin.cjs", "package.json"]));
    // One built module per source file of the package, and no other.
    const sources = readdirSync(join(PACKAGE, "src")).filter((file) => file.endsWith(".ts"));
    expect(paths.filter((path) => path.endsWith(".js")).sort()).toEqual(
      sources.map((file) => `dist/${file.replace(/\.ts$/, ".js")}`).sort(),
    );
  });

  it("installs from the tarball as a copy whose modules import only themselves, Node and kafkajs", () => {
    const installed = join(service, "node_modules/serverless-offline-kafka-trigger");
    expect(lstatSync(installed).isSymbolicLink()).toBe(false);
    expect(JSON.parse(readFileSync(join(installed, "package.json"), "utf8")).version).toBe(
      JSON.parse(readFileSync(join(PACKAGE, "package.json"), "utf8")).version,
    );
    const modules = [
      "plugin.cjs",
      ...readdirSync(join(installed, "dist"))
        .filter((file) => file.endsWith(".js"))
        .map((file) => `dist/${file}`),
    ];
    const outside = modules.flatMap((file) =>
      specifiers(readFileSync(join(installed, file), "utf8"))
        .filter((specifier) => !/^(\.\/|node:|kafkajs$)/.test(specifier))
        .map((specifier) => `${file}: ${specifier}`),
    );
    expect(outside).toEqual([]);
    expect(existsSync(join(installed, "test"))).toBe(false);
  });

  it("feeds the example's plain handler under `serverless offline start`: AWS's event shapes, a tombstone, commits on stop", async () => {
    const topic = await newTopic(2);
    await producer.send({
      topic,
      messages: [
        { partition: 0, key: "order-1", value: "first", headers: { source: "test" } },
        { partition: 0, value: "no key" },
        { partition: 1, key: "order-1", value: null },
      ],
    });
    const batchFile = join(work, `${topic}.jsonl`);
    const [httpPort, lambdaPort, websocketPort] = [await freePort(), await freePort(), await freePort()];
    const server = startExample(
      ["--httpPort", String(httpPort), "--lambdaPort", String(lambdaPort), "--websocketPort", String(websocketPort)],
      { BATCH_FILE: batchFile, ORDERS_TOPIC: topic, KAFKA_BROKERS: BROKERS },
    );
    try {
      const events = await eventually(
        "both functions received the three records",
        async () => readEvents(batchFile),
        (read) => ["aws:kafka", "SelfManagedKafka"].every((source) => recordsFrom(read, source).length >= 3),
        90_000,
      ).catch((error: Error) => {
        throw new Error(`${error.message}\n${server.output()}`);
      });

      for (const source of ["aws:kafka", "SelfManagedKafka"]) {
        const received = events.filter((event) => event.eventSource === source);
        for (const event of received) {
          expect(event.bootstrapServers).toBe(BROKERS);
          if (source === "aws:kafka") expect(event.eventSourceArn).toBe(EXAMPLE_ARN);
          else expect(event).not.toHaveProperty("eventSourceArn");
          for (const [key, records] of Object.entries(event.records))
            for (const record of records) expect(key).toBe(`${record.topic}-${record.partition}`);
        }
        const records = recordsFrom(events, source);
        // Each record once (nothing failed, nothing redelivered), keys and values base64, headers as byte arrays.
        expect(records.map(({ partition, offset }) => `${partition}:${offset}`).sort()).toEqual(["0:0", "0:1", "1:0"]);
        const at = (partition: number, offset: number) =>
          records.find((record) => record.partition === partition && record.offset === offset) as MSKRecord;
        expect(at(0, 0)).toMatchObject({
          topic,
          key: Buffer.from("order-1").toString("base64"),
          value: Buffer.from("first").toString("base64"),
          headers: [{ source: [...Buffer.from("test")] }],
          timestampType: "CREATE_TIME",
        });
        expect(at(0, 1)).not.toHaveProperty("key");
        expect(at(0, 1).value).toBe(Buffer.from("no key").toString("base64"));
        expect(at(1, 0).value).toBeNull();
        expect(at(1, 0).key).toBe(Buffer.from("order-1").toString("base64"));
      }
    } finally {
      const exit = await server.stop();
      expect(exit, server.output()).toEqual({ code: 0, signal: null });
    }
    // Each function's group committed through the end of both partitions.
    for (const group of [`${topic}-from-msk`, `${topic}-from-self-managed-kafka`]) {
      const [offsets] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      const committed = Object.fromEntries((offsets?.partitions ?? []).map(({ partition, offset }) => [partition, offset]));
      expect(committed, group).toEqual({ 0: "2", 1: "1" });
    }
    await admin.deleteGroups([`${topic}-from-msk`, `${topic}-from-self-managed-kafka`]).catch(() => {});
  }, 150_000);
});

function readEvents(file: string): MSKEvent[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as MSKEvent);
}

function recordsFrom(events: MSKEvent[], source: string): MSKRecord[] {
  return events.filter((event) => event.eventSource === source).flatMap((event) => Object.values(event.records).flat());
}

interface ExampleServer {
  output(): string;
  /** SIGTERM (the trigger commits and leaves its groups, then serverless-offline exits); SIGKILL after 20 s. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The example service's own `serverless offline start` (its node_modules' osls), in its own process group. */
function startExample(flags: string[], env: Record<string, string>): ExampleServer {
  const child: ChildProcess = spawn(
    process.execPath,
    [join(service, "node_modules/serverless/bin/serverless.js"), "offline", "start", ...flags],
    { cwd: service, env: outsideEnv(env), detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-100_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) =>
    child.once("exit", (code, signal) => resolveExit({ code, signal })),
  );
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-(child.pid as number), name);
    } catch {
      // Already gone.
    }
  };
  return {
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      signal("SIGTERM");
      const result = await Promise.race([exited, sleep(20_000).then(() => undefined)]);
      if (result) return result;
      signal("SIGKILL");
      return exited;
    },
  };
}
