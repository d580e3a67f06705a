/**
 * Side-effect module for local entry points (the CLIs in scripts/, bench, the test global setup):
 * import it FIRST, as a bare `import ".../infra/local-env.js";`, before anything that loads
 * lib/config.ts. It points DATABASE_URL at the private PostgreSQL and KAFKA_BROKERS at every node of
 * the native Kafka cluster infra:up recorded in <INFRA_CACHE_DIR>/infra-state.json when the
 * environment names none (an explicit DATABASE_URL or KAFKA_BROKERS always wins). ESM evaluates
 * imports in order, and biome's organizeImports never moves imports across a bare import, so
 * lib/config.ts then reads them from the environment like any other.
 */
import { applyRecordedInfra } from "./settings.js";

applyRecordedInfra();
