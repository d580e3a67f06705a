import pino from "pino";
import { config } from "./config.js";

/** The one structured JSON logger; children add the component name. */
export const logger = pino({ level: config.LOG_LEVEL, base: { service: "txlog" } });
