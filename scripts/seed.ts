/** npm run seed: the local environment first, then the command (seed/command.js). */
import { prepareLocalEnvironment } from "./cli/local-environment.js";

prepareLocalEnvironment();
await import("./seed/command.js");
