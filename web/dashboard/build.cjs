"use strict";
// The dashboard's build: esbuild bundles web/dashboard/src (Preact, Chart.js, the CSS) into
// dist/dashboard/dashboard.js and dashboard.css, which GET /dashboard/{file} serves (lib/dashboard/assets.ts).
// Nothing generated is committed: plugins/dashboard-build.cjs runs this before `serverless offline start`
// (npm start, the tests) and before `sls package`/`deploy`; `npm run build:dashboard` runs it by hand.
const { mkdirSync, renameSync, writeFileSync } = require("node:fs");
const { basename, join, resolve } = require("node:path");

const ROOT = resolve(__dirname, "..", "..");
const OUT_DIR = join(ROOT, "dist", "dashboard");

/**
 * Builds the bundle; resolves with the files written. Several servers may start at once (parallel tests):
 * each file is written beside its target and renamed over it, so a reader never sees half a file.
 */
async function buildDashboard({ minify = true } = {}) {
  const esbuild = require("esbuild");
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: { dashboard: join(__dirname, "src", "main.tsx") },
    bundle: true,
    format: "iife",
    platform: "browser",
    target: ["es2022"],
    jsx: "automatic",
    jsxImportSource: "preact",
    minify,
    legalComments: "eof",
    outdir: OUT_DIR,
    write: false,
    logLevel: "silent",
    define: { "process.env.NODE_ENV": '"production"' },
  });
  mkdirSync(OUT_DIR, { recursive: true });
  const written = [];
  for (const file of result.outputFiles) {
    const temporary = `${file.path}.${process.pid}.${Date.now()}.tmp`;
    writeFileSync(temporary, file.contents);
    renameSync(temporary, file.path);
    written.push({ name: basename(file.path), bytes: file.contents.length });
  }
  return written;
}

module.exports = { buildDashboard, OUT_DIR };

if (require.main === module) {
  const started = Date.now();
  buildDashboard().then(
    (files) => {
      const list = files.map(({ name, bytes }) => `${name} ${(bytes / 1024).toFixed(0)} KiB`).join(", ");
      console.log(`dashboard built in ${Date.now() - started} ms: ${list} (dist/dashboard)`);
    },
    (error) => {
      console.error(`dashboard build failed: ${error.message}`);
      process.exit(1);
    },
  );
}
