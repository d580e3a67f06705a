/** npm run worker: the local environment first, then the command (worker/command.js). */
import { prepareLocalEnvironment } from "./cli/local-environment.js";

prepareLocalEnvironment();
await import("./worker/command.js");
