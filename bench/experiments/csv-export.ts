/**
 * npx tsx bench/experiments/csv-export.ts: the local environment first, then the experiment
 * (csv-export/experiment.js) against a database of its own, txlog_bench_export, named before lib/config.ts reads it.
 */
import { prepareLocalEnvironment } from "../../scripts/cli/local-environment.js";
import { withDatabase } from "../../scripts/infra/postgres.js";

prepareLocalEnvironment();
process.env.DATABASE_URL = withDatabase(
  process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/txlog",
  "txlog_bench_export",
);
await import("./csv-export/experiment.js");
