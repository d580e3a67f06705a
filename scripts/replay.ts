/** npm run replay: the local environment first, then the command (replay/command.js). */
import { prepareLocalEnvironment } from "./cli/local-environment.js";

prepareLocalEnvironment({ quietRuntime: true });
await import("./replay/command.js");
