/** npm run dead-letters: the local environment first, then the command (dead-letters/command.js). */
import { prepareLocalEnvironment } from "./cli/local-environment.js";

prepareLocalEnvironment({ quietRuntime: true });
await import("./dead-letters/command.js");
