import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { builtinModules, createRequire } from "node:module";
import { relative, resolve } from "node:path";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";
import { parse, parseDocument } from "yaml";
import { DEVELOPMENT_API_KEY } from "../../lib/config.js";

/**
 * The Dockerfile, .dockerignore and docker-compose.yml read statically (no Docker engine here): which user each
 * service's image runs as, what the build context carries, and that the worker's production-only image holds
 * every package its command imports.
 */
const ROOT = resolve(import.meta.dirname, "../..");
const read = (file: string) => readFileSync(resolve(ROOT, file), "utf8");

interface Stage {
  name: string;
  from: string;
  instructions: { keyword: string; args: string }[];
}

/** The Dockerfile's stages (this file uses no line continuations, heredocs or parser directives). */
function stages(): Stage[] {
  const found: Stage[] = [];
  for (const line of read("Dockerfile").split("\n")) {
    const text = line.trim();
    if (text === "" || text.startsWith("#")) continue;
    const [keyword = "", ...rest] = text.split(/\s+/);
    const args = rest.join(" ");
    if (keyword.toUpperCase() === "FROM") {
      const [from = "", , name = String(found.length)] = rest;
      found.push({ name, from, instructions: [] });
    } else {
      found.at(-1)?.instructions.push({ keyword: keyword.toUpperCase(), args });
    }
  }
  return found;
}

/** A stage and the stages it is built FROM, nearest first (a stage inherits USER, ENV and files from them). */
function lineage(name: string): Stage[] {
  const all = stages();
  const chain: Stage[] = [];
  for (let stage = all.find((s) => s.name === name); stage; stage = all.find((s) => s.name === stage?.from)) {
    chain.push(stage);
  }
  return chain;
}

/** The user a target runs as: its last USER, else its parents' (root when none sets one). */
function runsAs(target: string): string {
  for (const stage of lineage(target)) {
    const user = stage.instructions.findLast((instruction) => instruction.keyword === "USER");
    if (user) return user.args;
  }
  return "root";
}

const composeTargets = (): Record<string, string | undefined> => {
  const compose = parseDocument(read("docker-compose.yml"), { merge: true }).toJS() as {
    services: Record<string, { build?: string | { target?: string } }>;
  };
  return Object.fromEntries(
    Object.entries(compose.services)
      .filter(([, service]) => service.build !== undefined)
      .map(([name, service]) => [name, typeof service.build === "object" ? service.build.target : undefined]),
  );
};

// ignore 5 is CommonJS typed as an ES default export, which NodeNext types as the module object: required.
const ignore = createRequire(import.meta.url)("ignore") as typeof import("ignore").default;
/** .dockerignore read as gitignore: anchored patterns mean the same to both, unanchored ones more to gitignore. */
const dockerignore = () => ignore().add(read(".dockerignore"));

/** The repository files esbuild reaches from `entries`, and the packages they import. */
async function imports(entries: string[]): Promise<{ files: string[]; packages: string[] }> {
  const { metafile } = await build({
    entryPoints: entries.map((entry) => resolve(ROOT, entry)),
    bundle: true,
    platform: "node",
    format: "esm",
    packages: "external",
    write: false,
    metafile: true,
    outdir: "/nonexistent",
    logLevel: "silent",
  });
  const packages = new Set<string>();
  for (const input of Object.values(metafile.inputs)) {
    for (const { path, external } of input.imports) {
      if (!external || path.startsWith("node:") || builtinModules.includes(path)) continue;
      packages.add(
        path
          .split("/")
          .slice(0, path.startsWith("@") ? 2 : 1)
          .join("/"),
      );
    }
  }
  return { files: Object.keys(metafile.inputs).map((file) => relative(ROOT, resolve(ROOT, file))), packages: [...packages] };
}

describe("the Dockerfile", () => {
  it("gives every compose service that builds an image a target of its own, which runs as an unprivileged user", () => {
    const targets = composeTargets();
    expect(Object.keys(targets).sort()).toEqual(["api", "worker"]);
    for (const [service, target] of Object.entries(targets)) {
      expect(target, service).toBeDefined();
      expect(lineage(target as string).length, `${service}: target ${target} exists`).toBeGreaterThan(0);
      expect(runsAs(target as string), service).not.toMatch(/^(root|0)(:.*)?$/);
    }
    // `docker build .` without a target builds the last stage: unprivileged too.
    expect(runsAs(stages().at(-1)?.name as string)).toBe("node");
  });

  it("installs only production dependencies in the worker image, and they hold everything scripts/worker.ts imports", async () => {
    const installs = lineage("worker")
      .flatMap((stage) => stage.instructions)
      .filter((instruction) => instruction.keyword === "COPY" && instruction.args.includes("node_modules"));
    const source = installs.map((copy) => /--from=(\S+)/.exec(copy.args)?.[1]);
    expect(source).toHaveLength(1);
    const install = lineage(source[0] as string)
      .flatMap((stage) => stage.instructions)
      .filter((instruction) => instruction.keyword === "RUN" && instruction.args.includes("npm ci"));
    expect(install.map((run) => run.args)).toEqual([expect.stringContaining("--omit=dev")]);

    const worker = lineage("worker")[0]?.instructions.findLast((instruction) => instruction.keyword === "CMD");
    const { dependencies, scripts } = JSON.parse(read("package.json")) as {
      dependencies: Record<string, string>;
      scripts: Record<string, string>;
    };
    // The image runs the worker as `npm run worker` does, node's memory flags included (docs/performance.md).
    expect(JSON.parse(worker?.args ?? "[]")).toEqual(scripts.worker?.split(" "));
    const { packages } = await imports(["scripts/worker.ts"]);
    expect(packages.filter((name) => !(name in dependencies))).toEqual([]);
    expect("tsx" in dependencies).toBe(true);
  });
});

describe(".dockerignore", () => {
  it("keeps every .env (local secrets) out of the build context, but not the documented example", () => {
    const ignored = dockerignore();
    for (const file of [".env", ".env.local", ".env.production", "web/.env", "server.key", "infra/ca.pem"]) {
      expect(ignored.ignores(file), file).toBe(true);
    }
    expect(ignored.ignores(".env.example")).toBe(false);
  });

  it("leaves out tests, benchmarks and data, and keeps every file the api's and the worker's commands run", async () => {
    const ignored = dockerignore();
    for (const path of ["test/unit/dockerfile.test.ts", "bench/run.ts", "data/paysim-sample.csv", "paysim.csv", ".git/HEAD"]) {
      expect(ignored.ignores(path), path).toBe(true);
    }
    const functions = parse(read("serverless.yml")).functions as Record<string, { handler: string }>;
    const handlers = [...new Set(Object.values(functions).map(({ handler }) => `${handler.replace(/\.[^.]+$/, "")}.ts`))];
    const dashboard = readdirSync(resolve(ROOT, "web/dashboard")).map((file) => `web/dashboard/${file}`);
    const { files } = await imports(["scripts/start.ts", "scripts/worker.ts", "scripts/migrate.ts", ...handlers]);
    const needed = [...files, ...dashboard, "serverless.yml", "package.json", "tsconfig.json", "drizzle/meta/_journal.json"];
    expect(needed.filter((path) => ignored.ignores(path))).toEqual([]);
  });
});

describe("what an image holds", () => {
  /** The files `docker build .` sends (tracked, or untracked and not git-ignored), less what .dockerignore leaves out. */
  const contextFiles = () => {
    const listed = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z"], { cwd: ROOT });
    const ignored = dockerignore();
    return listed
      .toString()
      .split("\0")
      .filter((path) => path !== "" && !ignored.ignores(path));
  };

  it("sets no secret in the Dockerfile: no ENV or ARG named for a password, key or token, and no value for one", () => {
    const settings = stages()
      .flatMap((stage) => stage.instructions)
      .filter((instruction) => instruction.keyword === "ENV" || instruction.keyword === "ARG");
    expect(settings.map((instruction) => instruction.args)).toEqual(["NODE_ENV=production"]);
  });

  it("carries no password, private key or access key in the files copied into it", () => {
    const files = contextFiles();
    expect(files).toEqual(expect.arrayContaining(["lib/config.ts", "serverless.yml", ".env.example"]));
    const found: string[] = [];
    for (const path of files) {
      let text: string;
      try {
        text = readFileSync(resolve(ROOT, path), "utf8");
      } catch {
        continue; // a listed file deleted in the work tree
      }
      if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) found.push(`${path}: a private key`);
      if (/\b(AKIA|ASIA)[0-9A-Z]{16}\b/.test(text)) found.push(`${path}: an AWS access key id`);
      if (/\.(ya?ml|json)$/.test(path) && /\{\{resolve:secretsmanager:/.test(text)) {
        found.push(`${path}: a secret resolved into configuration`);
      }
      // A URL with a password in it; the masked form (user:***@) and the one comment that shows the masking are not.
      for (const [url, password] of text.matchAll(/[a-z][a-z0-9+.-]*:\/\/[^\s:@/"'`]+:([^\s@/"'`]+)@/gi)) {
        if (password === "***" || (path === "scripts/cli/run.ts" && url === "postgres://user:secret@")) continue;
        found.push(`${path}: ${url}`);
      }
    }
    expect(found).toEqual([]);
  });

  it("gives only the public local values to secret-named variables in .env.example (the one .env file it carries)", () => {
    const assignments = read(".env.example")
      .split("\n")
      .map((line) => /^([A-Z_]*(PASSWORD|SECRET|KEY|TOKEN)[A-Z_]*)=(.*)$/.exec(line.trim()))
      .filter((match) => match !== null)
      .map(([, name, , value]) => `${name}=${value}`);
    // The development API key (refused by every deployed stage, lib/config.ts) and compose's local PostgreSQL password.
    expect(assignments.sort()).toEqual([`API_KEY=${DEVELOPMENT_API_KEY}`, "POSTGRES_PASSWORD=txlog-local-postgres"]);
  });
});
