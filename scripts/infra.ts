/** npm run infra:up / infra:down / infra:status: the local environment first, then the command (infra/command.js). */
import { prepareLocalEnvironment } from "./cli/local-environment.js";

prepareLocalEnvironment();
await import("./infra/command.js");
