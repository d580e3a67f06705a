/** npx tsx bench/experiments/consume-path.ts: the local environment first, then the command (consume-path/experiment.js). */
import { prepareLocalEnvironment } from "../../scripts/cli/local-environment.js";

prepareLocalEnvironment();
await import("./consume-path/experiment.js");
