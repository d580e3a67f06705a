/** npm run migrate: the local environment first, then the command (migrate/command.js). */
import { prepareLocalEnvironment } from "./cli/local-environment.js";

prepareLocalEnvironment({ quietRuntime: true });
await import("./migrate/command.js");
