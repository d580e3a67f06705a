/** npm start: the local environment first, then the command (start/command.js). */
import { prepareLocalEnvironment } from "./cli/local-environment.js";

prepareLocalEnvironment();
await import("./start/command.js");
