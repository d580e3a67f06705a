/** npm run verify: the local environment first, then the command (verify/command.js). */
import { prepareLocalEnvironment } from "./cli/local-environment.js";

prepareLocalEnvironment({ quietRuntime: true });
await import("./verify/command.js");
