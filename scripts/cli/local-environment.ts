import { applyRecordedInfra } from "../infra/settings.js";

/**
 * What a local command does before it loads runtime code. lib/config.ts reads the environment once, when
 * it is first imported, so an entry file calls this first and then imports its command:
 * - DATABASE_URL and KAFKA_BROKERS point at what infra:up recorded, unless the environment names them;
 * - `quietRuntime`: operator commands that run runtime code (replay invokes the consume handler,
 *   dead-letters produces) print only its warnings, unless LOG_LEVEL says otherwise, so its per-batch
 *   info lines do not bury the command's own output.
 */
export function prepareLocalEnvironment({ quietRuntime = false }: { quietRuntime?: boolean } = {}): void {
  applyRecordedInfra();
  if (quietRuntime) process.env.LOG_LEVEL ??= "warn";
}
