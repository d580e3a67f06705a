/** npx tsx bench/experiments/insert-paths.ts: the local environment first, then the command (insert-paths/experiment.js). */
import { prepareLocalEnvironment } from "../../scripts/cli/local-environment.js";

prepareLocalEnvironment();
await import("./insert-paths/experiment.js");
