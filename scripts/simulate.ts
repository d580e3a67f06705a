/** npm run simulate: the local environment first, then the command (simulate/command.js). */
import { prepareLocalEnvironment } from "./cli/local-environment.js";

prepareLocalEnvironment();
await import("./simulate/command.js");
