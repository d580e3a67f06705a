import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

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
    include: ["test/**/*.test.ts", "packages/*/test/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    pool: "forks",
    // Integration files start servers on fixed ports and share one broker: run files one at a time.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 180_000,
    reporters: ["default"],
  },
});
