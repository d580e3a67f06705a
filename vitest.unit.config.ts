import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/**
 * `npm run test:unit`: test/unit only (pure code, no broker, no database, no server), without the global
 * setup that brings infrastructure up; files run in parallel. `npm test` (vitest.config.ts) runs everything.
 */
export default defineConfig({
  // The trigger package by its name, from its sources (as tsconfig.json's paths map it for tsc and tsx).
  resolve: {
    alias: {
      "serverless-offline-kafka-trigger": fileURLToPath(
        new URL("./packages/serverless-offline-kafka-trigger/src/index.ts", import.meta.url),
      ),
    },
  },
  test: {
    include: ["test/unit/**/*.test.ts", "packages/*/test/unit/**/*.test.ts"],
    pool: "forks",
    testTimeout: 30_000,
    reporters: ["default"],
  },
});
