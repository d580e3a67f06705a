import { resolve } from "node:path";

/** The real PaySim sample (data/README.md: 41,371 rows, CC BY-SA 4.0), kept in the repository. */
export const PAYSIM_SAMPLE = resolve(import.meta.dirname, "../../data/paysim-sample.csv");
