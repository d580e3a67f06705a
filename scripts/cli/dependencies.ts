import { kafkaAnswers, postgresAnswers } from "../infra/index.js";
import { CliError, redactUrl } from "./run.js";

/**
 * Quick checks before a script starts work, so an unreachable dependency is one clear line (exit 1)
 * instead of a client's retries and stack. Each probe gives up after about 2 s.
 */
export async function requireDatabase(url: string): Promise<void> {
  if (!(await postgresAnswers(url))) {
    throw new CliError(`PostgreSQL does not answer at ${redactUrl(url)} (start it with npm run infra:up, or set DATABASE_URL)`);
  }
}

export async function requireKafka(brokers: string[]): Promise<void> {
  if (!(await kafkaAnswers(brokers))) {
    throw new CliError(`Kafka does not answer at ${brokers.join(",")} (start it with npm run infra:up, or set KAFKA_BROKERS)`);
  }
}
