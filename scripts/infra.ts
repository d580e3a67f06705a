/** npm run infra:up | infra:down | infra:status */
import "./infra/local-env.js";
import { loadConfig } from "../lib/config.js";
import { applyRecordedDatabaseUrl, infraDown, infraStatus, infraUp, PrerequisiteError } from "./infra/index.js";

const command = process.argv[2];
const say = (message: string) => console.log(`[infra] ${message}`);

async function main(): Promise<void> {
  switch (command) {
    case "up": {
      await infraUp(loadConfig(), say);
      await printStatus();
      return;
    }
    case "down":
      await infraDown(loadConfig(), say);
      say("down");
      return;
    case "status":
      await printStatus();
      return;
    default:
      throw new PrerequisiteError("usage: tsx scripts/infra.ts up|down|status");
  }
}

async function printStatus(): Promise<void> {
  // Re-read: up may have recorded a private PostgreSQL URL.
  applyRecordedDatabaseUrl();
  const status = await infraStatus(loadConfig());
  const mark = (ok: boolean) => (ok ? "up  " : "DOWN");
  console.log(`kafka     ${mark(status.kafka.answering)}  ${status.kafka.brokers.join(",")}  (${status.kafka.managedBy})`);
  console.log(`postgres  ${mark(status.postgres.answering)}  ${status.postgres.url}  (${status.postgres.managedBy})`);
}

main().catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`[infra] ${message}`);
  process.exit(1);
});
