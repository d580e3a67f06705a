import { spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type ClientSecurity, kafkaAnswers } from "./kafka-probe.js";
import { ensureKafkaJars } from "./maven-jars.js";
import { isAlive, stopProcess, waitFor } from "./process.js";

/** Any fixed 22-character base64url id; one per data directory, so a restart keeps the log. */
const CLUSTER_ID = "dHhsb2ctbG9jYWwtY2x1c3Q";

/** A KRaft controller of the cluster (a voter of its metadata quorum). */
export interface Voter {
  nodeId: number;
  controllerPort: number;
}

/**
 * The client listener as SASL_SSL (the production path: MSK's SASL/SCRAM port) instead of PLAINTEXT. The
 * brokers talk to each other over it too, as the first user.
 */
export interface SaslSslListener {
  /** PKCS12 keystore with the broker's key and certificate (its chain included). */
  keystore: string;
  /** The keystore's and the key's password. */
  password: string;
  /** PEM file of the CA(s) the broker trusts when it connects to a broker (itself included: transaction markers). */
  truststorePem: string;
  mechanism: "SCRAM-SHA-256" | "SCRAM-SHA-512";
  /** SCRAM users written into the metadata when the storage is formatted (KRaft: format --add-scram). */
  users: { name: string; password: string }[];
}

export interface NativeBrokerOptions {
  /** Holds data/, logs/, server.properties and broker.pid; data/ survives stop + start. */
  dir: string;
  cacheDir: string;
  port: number;
  controllerPort: number;
  partitions?: number;
  heapMb?: number;
  /** This node's id (1 for a single node). */
  nodeId?: number;
  /** Every controller of the cluster, this node included; default: this node alone (a single-node cluster). */
  voters?: Voter[];
  saslSsl?: SaslSslListener;
  /** More server.properties entries, overriding ours (tests: heartbeat and session timeouts). */
  properties?: Record<string, string | number | boolean>;
  /** How infra probes the client listener (needed with saslSsl). */
  probeSecurity?: ClientSecurity;
}

/** Internal topics' replication for a cluster of `nodes`: 1/1 on one node, 3/2 on three (lib/kafka/admin.ts's rule). */
export function internalReplication(nodes: number): { factor: number; minInsync: number } {
  const factor = Math.max(1, Math.min(3, nodes));
  return { factor, minInsync: Math.max(1, factor - 1) };
}

/**
 * One KRaft node (broker and controller in one process, as Kafka's quickstart runs it) from Maven Central's
 * jars, the way Kafka's bin/ scripts run it: alone, or one of a cluster (NativeKafkaCluster).
 */
export class NativeKafkaBroker {
  readonly brokers: string[];
  readonly nodeId: number;
  readonly port: number;
  readonly dir: string;
  private readonly pidFile: string;
  private readonly logDir: string;

  constructor(private readonly options: NativeBrokerOptions) {
    this.brokers = [`127.0.0.1:${options.port}`];
    this.nodeId = options.nodeId ?? 1;
    this.port = options.port;
    this.dir = options.dir;
    this.pidFile = join(options.dir, "broker.pid");
    this.logDir = join(options.dir, "logs");
  }

  /** server.properties as key/value pairs: a KRaft node of `voters`, internal topics replicated to fit them. */
  serverProperties(): Map<string, string> {
    const { port, controllerPort, partitions = 3, saslSsl } = this.options;
    const voters = this.options.voters ?? [{ nodeId: this.nodeId, controllerPort }];
    const { factor, minInsync } = internalReplication(voters.length);
    const client = saslSsl ? "SASL_SSL" : "PLAINTEXT";
    const properties = new Map<string, string>([
      ["process.roles", "broker,controller"],
      ["node.id", String(this.nodeId)],
      ["controller.quorum.voters", voters.map((voter) => `${voter.nodeId}@127.0.0.1:${voter.controllerPort}`).join(",")],
      ["listeners", `${client}://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`],
      ["advertised.listeners", `${client}://127.0.0.1:${port}`],
      ["inter.broker.listener.name", client],
      ["controller.listener.names", "CONTROLLER"],
      ["listener.security.protocol.map", `CONTROLLER:PLAINTEXT,${client}:${client}`],
      ["log.dirs", join(this.options.dir, "data")],
      ["num.partitions", String(partitions)],
      // Internal topics and topics created without a replication factor: as many copies as the cluster
      // allows up to 3, acks=all waiting for all but one (1/1 on one node, 3/2 on three).
      ["offsets.topic.replication.factor", String(factor)],
      ["offsets.topic.num.partitions", "3"],
      ["default.replication.factor", String(factor)],
      ["min.insync.replicas", String(minInsync)],
      // The API produces in Kafka transactions: their state log must fit the cluster. 3 partitions, not 50:
      // a fresh broker creates it on the first transaction, which otherwise waits ~6 s for it.
      ["transaction.state.log.replication.factor", String(factor)],
      ["transaction.state.log.min.isr", String(minInsync)],
      ["transaction.state.log.num.partitions", "3"],
      ["group.initial.rebalance.delay.ms", "0"],
      // A fresh machine has no topics; the app creates its own with the partition count it wants.
      ["auto.create.topics.enable", "true"],
    ]);
    if (saslSsl) {
      const { mechanism, users, keystore, password, truststorePem } = saslSsl;
      const [brokerUser] = users;
      if (!brokerUser) throw new Error("saslSsl needs at least one SCRAM user (the brokers' own)");
      for (const [key, value] of [
        ["sasl.enabled.mechanisms", mechanism],
        ["sasl.mechanism.inter.broker.protocol", mechanism],
        [
          `listener.name.sasl_ssl.${mechanism.toLowerCase()}.sasl.jaas.config`,
          `org.apache.kafka.common.security.scram.ScramLoginModule required username="${brokerUser.name}" password="${brokerUser.password}";`,
        ],
        ["ssl.keystore.type", "PKCS12"],
        ["ssl.keystore.location", keystore],
        ["ssl.keystore.password", password],
        ["ssl.key.password", password],
        ["ssl.truststore.type", "PEM"],
        ["ssl.truststore.location", truststorePem],
        ["ssl.client.auth", "none"],
      ]) {
        properties.set(key as string, value as string);
      }
    }
    for (const [key, value] of Object.entries(this.options.properties ?? {})) properties.set(key, String(value));
    return properties;
  }

  /** The node's KRaft roles, as its server.properties says. */
  get roles(): string {
    return this.serverProperties().get("process.roles") ?? "";
  }

  get pid(): number | undefined {
    if (!existsSync(this.pidFile)) return undefined;
    const pid = Number(readFileSync(this.pidFile, "utf8").trim());
    return isAlive(pid) ? pid : undefined;
  }

  async start(): Promise<number> {
    const running = this.pid;
    if (running) return running;
    const { dir, cacheDir, port, heapMb = 512, saslSsl } = this.options;
    const libs = ensureKafkaJars(cacheDir);
    const dataDir = join(dir, "data");
    mkdirSync(dataDir, { recursive: true });
    mkdirSync(this.logDir, { recursive: true });
    const properties = join(dir, "server.properties");
    const entries = [...this.serverProperties()].map(([key, value]) => `${key}=${value}`);
    writeFileSync(properties, `${entries.join("\n")}\n`, { mode: 0o600 });
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
          ...(saslSsl?.users ?? []).flatMap(({ name, password }) => [
            "--add-scram",
            `${saslSsl?.mechanism}=[name=${name},password=${password}]`,
          ]),
        ],
        { encoding: "utf8" },
      );
      if (format.status !== 0) throw new Error(`kafka storage format failed:\n${format.stdout}${format.stderr}`);
    }
    const serverLog = join(this.logDir, "server.log");
    const logFrom = existsSync(serverLog) ? statSync(serverLog).size : 0;
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
        // The listener answers Metadata before the controller unfenced the broker; "Kafka Server started" is
        // logged once it did (until then it leads nothing, and a topic created meanwhile may get fewer replicas).
        return (
          logged(serverLog, logFrom, "Kafka Server started") && kafkaAnswers(this.brokers, 1_000, this.options.probeSecurity)
        );
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
    this.signal("SIGKILL");
  }

  /** Sends `signal` to the running broker (SIGSTOP/SIGCONT: a hung host); false when it is not running. */
  signal(signal: NodeJS.Signals): boolean {
    const pid = this.pid;
    if (pid) process.kill(pid, signal);
    return pid !== undefined;
  }

  /** The last lines of the broker's log (server.log, else stdout.log), for errors. */
  logTail(lines = 30): string {
    for (const file of ["server.log", "stdout.log"]) {
      const path = join(this.logDir, file);
      if (existsSync(path)) return readFileSync(path, "utf8").split("\n").slice(-lines).join("\n");
    }
    return "(no broker log)";
  }
}

/** Whether `text` was written to `path` at or after byte `from` (from the start when the file rolled over since). */
function logged(path: string, from: number, text: string): boolean {
  if (!existsSync(path)) return false;
  const size = statSync(path).size;
  const start = size < from ? 0 : from;
  const buffer = Buffer.alloc(size - start);
  const fd = openSync(path, "r");
  try {
    readSync(fd, buffer, 0, buffer.length, start);
  } finally {
    closeSync(fd);
  }
  return buffer.includes(text);
}
