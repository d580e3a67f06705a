import { resolve } from "node:path";

/** The real PaySim sample, read where it lives: shared/ beside the repository (never copied into it). */
export const PAYSIM_SAMPLE = resolve(import.meta.dirname, "../../../shared/data/paysim-sample.csv");
