import { defineConfig } from "vitest/config";

/**
 * `npm run test:unit`: test/unit only (pure code, no broker, no database, no server), without the global
 * setup that brings infrastructure up; files run in parallel. `npm test` (vitest.config.ts) runs everything.
 */
export default defineConfig({
  test: {
    include: ["test/unit/**/*.test.ts"],
    pool: "forks",
    testTimeout: 30_000,
    reporters: ["default"],
  },
});
