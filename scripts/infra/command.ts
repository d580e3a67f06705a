/** npm run infra:up | infra:down | infra:status */
import { loadConfig } from "../../lib/config.js";
import { cliCommand, numberBetween, parseOrExit, positiveInteger } from "../cli/args.js";
import { describeError } from "../cli/run.js";
import { applyRecordedInfra, infraDown, infraSettings, infraStatus, infraUp } from "./index.js";

const say = (message: string) => console.log(`[infra] ${message}`);

let chosen: (() => Promise<void>) | undefined;
const program = cliCommand(
  "tsx scripts/infra.ts",
  "Kafka and PostgreSQL on this machine (npm run infra:up, infra:down, infra:status): Docker compose when a " +
    "Docker engine answers, else a native Kafka broker (JDK + Maven) and a private PostgreSQL cluster (initdb) " +
    "under INFRA_CACHE_DIR (.cache). Whatever already answers is used as it is.",
  "infra",
);
program
  .command("up")
  .description("start what does not answer (idempotent), then print the status")
  .option(
    "--brokers <count>",
    "native Kafka brokers to start (1..5; 3: each also a KRaft controller, topics replicated 3 times, min.insync 2)",
    (text) => numberBetween(1, 5)(String(positiveInteger(text))),
    infraSettings.KAFKA_BROKER_COUNT,
  )
  .action(({ brokers }) => {
    chosen = async () => {
      await infraUp(loadConfig(), say, undefined, { brokers });
      await printStatus();
    };
  });
program
  .command("down")
  .description("stop only what infra:up started; data is kept")
  .action(() => {
    chosen = async () => {
      await infraDown(loadConfig(), say);
      say("down");
    };
  });
program
  .command("status")
  .description("what runs where")
  .action(() => {
    chosen = printStatus;
  });
parseOrExit(program);

async function printStatus(): Promise<void> {
  // Re-read: up may have recorded a private PostgreSQL URL and a cluster's brokers.
  applyRecordedInfra();
  const status = await infraStatus(loadConfig());
  const mark = (ok: boolean) => (ok ? "up  " : "DOWN");
  console.log(`kafka     ${mark(status.kafka.answering)}  ${status.kafka.brokers.join(",")}  (${status.kafka.managedBy})`);
  for (const node of status.kafka.nodes ?? []) {
    console.log(
      `  kafka-${node.nodeId} ${mark(node.answering)}  ${node.address}  ${node.role}, pid ${node.pid ?? "-"}, ${node.dir}`,
    );
  }
  console.log(`postgres  ${mark(status.postgres.answering)}  ${status.postgres.url}  (${status.postgres.managedBy})`);
}

chosen?.().catch((error: unknown) => {
  console.error(`[infra] ${describeError(error)}`);
  process.exit(1);
});
