import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Kafka, logLevel } from "kafkajs";
import { isAlive, stopProcess, waitFor } from "./process.js";

/** The pinned Apache Kafka release; its jars come from Maven Central via infra/kafka/pom.xml. */
export const KAFKA_VERSION = "3.9.1";
const POM = resolve(dirname(fileURLToPath(import.meta.url)), "../../infra/kafka/pom.xml");
/** Any fixed 22-character base64url id; one per data directory, so a restart keeps the log. */
const CLUSTER_ID = "dHhsb2ctbG9jYWwtY2x1c3Q";

/** True when a broker at `brokers` answers a Metadata request. */
export async function kafkaAnswers(brokers: string[], timeoutMs = 2_000): Promise<boolean> {
  const admin = new Kafka({
    clientId: "txlog-infra-probe",
    brokers,
    connectionTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
  }).admin();
  try {
    await admin.connect();
    await admin.describeCluster();
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * Resolves the broker's runtime classpath with Maven into `<cacheDir>/kafka/libs-<version>` once.
 * Maven's own ~/.m2 cache makes later resolutions offline.
 */
export function ensureKafkaJars(cacheDir: string): string {
  const libs = join(cacheDir, "kafka", `libs-${KAFKA_VERSION}`);
  if (existsSync(join(libs, `kafka_2.13-${KAFKA_VERSION}.jar`))) return libs;
  const staging = `${libs}.partial`;
  rmSync(staging, { recursive: true, force: true });
  const mvn = spawnSync(
    "mvn",
    ["-B", "-q", "-f", POM, "dependency:copy-dependencies", "-DincludeScope=runtime", `-DoutputDirectory=${staging}`],
    { encoding: "utf8" },
  );
  if (mvn.status !== 0) {
    throw new Error(`Maven could not resolve Kafka ${KAFKA_VERSION}'s jars:\n${mvn.stdout}${mvn.stderr}`);
  }
  renameSync(staging, libs);
  return libs;
}

export interface NativeBrokerOptions {
  /** Holds data/, logs/, server.properties and broker.pid; data/ survives stop + start. */
  dir: string;
  cacheDir: string;
  port: number;
  controllerPort: number;
  partitions?: number;
  heapMb?: number;
}

/** A single-node KRaft broker run from Maven Central's jars, the way Kafka's bin/ scripts run it. */
export class NativeKafkaBroker {
  readonly brokers: string[];
  private readonly pidFile: string;
  private readonly logDir: string;

  constructor(private readonly options: NativeBrokerOptions) {
    this.brokers = [`127.0.0.1:${options.port}`];
    this.pidFile = join(options.dir, "broker.pid");
    this.logDir = join(options.dir, "logs");
  }

  get pid(): number | undefined {
    if (!existsSync(this.pidFile)) return undefined;
    const pid = Number(readFileSync(this.pidFile, "utf8").trim());
    return isAlive(pid) ? pid : undefined;
  }

  async start(): Promise<number> {
    const running = this.pid;
    if (running) return running;
    const { dir, cacheDir, port, controllerPort, partitions = 3, heapMb = 512 } = this.options;
    const libs = ensureKafkaJars(cacheDir);
    const dataDir = join(dir, "data");
    mkdirSync(dataDir, { recursive: true });
    mkdirSync(this.logDir, { recursive: true });
    const properties = join(dir, "server.properties");
    writeFileSync(
      properties,
      [
        "process.roles=broker,controller",
        "node.id=1",
        `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
        `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
        `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
        "inter.broker.listener.name=PLAINTEXT",
        "controller.listener.names=CONTROLLER",
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        `log.dirs=${dataDir}`,
        `num.partitions=${partitions}`,
        "offsets.topic.replication.factor=1",
        "offsets.topic.num.partitions=3",
        // The API produces in Kafka transactions: their state log must fit one node. 3 partitions, not 50:
        // a fresh broker creates it on the first transaction, which otherwise waits ~6 s for it.
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "transaction.state.log.num.partitions=3",
        "group.initial.rebalance.delay.ms=0",
        // A fresh machine has no topics; the app creates its own with the partition count it wants.
        "auto.create.topics.enable=true",
        "",
      ].join("\n"),
    );
    const log4j = join(dir, "log4j.properties");
    writeFileSync(
      log4j,
      [
        "log4j.rootLogger=INFO, file",
        "log4j.appender.file=org.apache.log4j.RollingFileAppender",
        `log4j.appender.file.File=${join(this.logDir, "server.log")}`,
        "log4j.appender.file.MaxFileSize=20MB",
        "log4j.appender.file.MaxBackupIndex=2",
        "log4j.appender.file.layout=org.apache.log4j.PatternLayout",
        "log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n",
        "log4j.logger.kafka=INFO",
        "log4j.logger.org.apache.kafka=INFO",
        "",
      ].join("\n"),
    );
    const classpath = `${libs}/*`;
    const jvmLogging = [`-Dkafka.logs.dir=${this.logDir}`, `-Dlog4j.configuration=file:${log4j}`];
    if (!existsSync(join(dataDir, "meta.properties"))) {
      const format = spawnSync(
        "java",
        [
          ...jvmLogging,
          "-cp",
          classpath,
          "kafka.tools.StorageTool",
          "format",
          "-t",
          CLUSTER_ID,
          "-c",
          properties,
          "--ignore-formatted",
        ],
        { encoding: "utf8" },
      );
      if (format.status !== 0) throw new Error(`kafka storage format failed:\n${format.stdout}${format.stderr}`);
    }
    const out = openSync(join(this.logDir, "stdout.log"), "a");
    const child = spawn(
      "java",
      [
        `-Xmx${heapMb}M`,
        `-Xms${heapMb}M`,
        "-server",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:InitiatingHeapOccupancyPercent=35",
        "-XX:+ExplicitGCInvokesConcurrent",
        "-Djava.awt.headless=true",
        ...jvmLogging,
        "-cp",
        classpath,
        "kafka.Kafka",
        properties,
      ],
      { detached: true, stdio: ["ignore", out, out] },
    );
    child.unref();
    const pid = child.pid;
    if (!pid) throw new Error("could not spawn java for the Kafka broker");
    writeFileSync(this.pidFile, String(pid));
    await waitFor(
      `Kafka broker on 127.0.0.1:${port}`,
      async () => {
        if (!isAlive(pid)) throw new Error(`the Kafka broker exited at start:\n${this.logTail()}`);
        return kafkaAnswers(this.brokers, 1_000);
      },
      { timeoutMs: 90_000, onTimeout: () => this.logTail() },
    );
    return pid;
  }

  /** Graceful stop: the broker flushes and closes its log, so nothing acknowledged is lost. */
  async stop(): Promise<void> {
    const pid = this.pid;
    if (pid) await stopProcess(pid);
    rmSync(this.pidFile, { force: true });
  }

  /** A crash, for fault tests: no flush, no controlled shutdown. */
  kill(): void {
    const pid = this.pid;
    if (pid) process.kill(pid, "SIGKILL");
  }

  logTail(lines = 30): string {
    for (const file of ["server.log", "stdout.log"]) {
      const path = join(this.logDir, file);
      if (existsSync(path)) return readFileSync(path, "utf8").split("\n").slice(-lines).join("\n");
    }
    return "(no broker log)";
  }
}
