/** npm run bench: the local environment first, then the command (command.js). */
import { prepareLocalEnvironment } from "../scripts/cli/local-environment.js";

prepareLocalEnvironment();
await import("./command.js");
