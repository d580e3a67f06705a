import { spawn } from "node:child_process";
import { join } from "node:path";
import { ensureMavenJars } from "../../scripts/infra/index.js";
import { REPO_ROOT } from "./offline.js";

/**
 * Kafka's own producer benchmark, org.apache.kafka.tools.ProducerPerformance (the Java client, acks=all,
 * idempotent): stage 3's reference for what the broker takes from one well-tuned producer process. Its jars
 * are resolved from Maven Central with infra/kafka-tools/pom.xml (the broker's version), like the broker's.
 */
export const KAFKA_TOOLS_VERSION = "3.9.1";
const POM = join(REPO_ROOT, "infra/kafka-tools/pom.xml");

/** `<cacheDir>/kafka/tools-<version>`, resolved once with Maven (its ~/.m2 makes later runs offline). */
export function ensureKafkaToolsJars(cacheDir: string): string {
  return ensureMavenJars({
    pom: POM,
    libs: join(cacheDir, "kafka", `tools-${KAFKA_TOOLS_VERSION}`),
    markerJar: `kafka-tools-${KAFKA_TOOLS_VERSION}.jar`,
    name: `kafka-tools ${KAFKA_TOOLS_VERSION}`,
  });
}

export interface ProducerPerformanceResult {
  records: number;
  recordsPerSec: number;
  mbPerSec: number;
  avgLatencyMs: number;
  p99LatencyMs: number;
  /** The tool's settings, as passed. */
  producerProps: string[];
}

/** Parses the tool's last line: "200000 records sent, 75169.0 records/sec (22.94 MB/sec), 245.3 ms avg latency, ... 567 ms 99th, ...". */
export function parseProducerPerformance(output: string): Omit<ProducerPerformanceResult, "producerProps"> | undefined {
  const lines = output.trim().split("\n").reverse();
  for (const line of lines) {
    const match =
      /^(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency, [\d.]+ ms max latency, [\d.]+ ms 50th, [\d.]+ ms 95th, ([\d.]+) ms 99th/.exec(
        line.trim(),
      );
    if (match)
      return {
        records: Number(match[1]),
        recordsPerSec: Number(match[2]),
        mbPerSec: Number(match[3]),
        avgLatencyMs: Number(match[4]),
        p99LatencyMs: Number(match[5]),
      };
  }
  return undefined;
}

/**
 * Runs ProducerPerformance against `brokers`: `records` records of `recordSize` bytes, as fast as it can, acks=all,
 * idempotent, linger.ms=5 (what Kafka 4's producer defaults to; the API coalesces what queues meanwhile the same way).
 */
export async function runProducerPerformance(options: {
  cacheDir: string;
  brokers: string[];
  topic: string;
  records: number;
  recordSize: number;
  logFile?: string;
}): Promise<ProducerPerformanceResult> {
  const libs = ensureKafkaToolsJars(options.cacheDir);
  const producerProps = [`bootstrap.servers=${options.brokers.join(",")}`, "acks=all", "enable.idempotence=true", "linger.ms=5"];
  const args = [
    "-Xmx512m",
    "-cp",
    `${libs}/*`,
    "org.apache.kafka.tools.ProducerPerformance",
    "--topic",
    options.topic,
    "--num-records",
    String(options.records),
    "--record-size",
    String(options.recordSize),
    "--throughput",
    "-1",
    "--producer-props",
    ...producerProps,
  ];
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn("java", args, { stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    child.stdout.on("data", (chunk) => {
      text += chunk;
    });
    child.stderr.on("data", (chunk) => {
      text += chunk;
    });
    child.once("error", reject);
    child.once("exit", (code) =>
      code === 0 ? resolve(text) : reject(new Error(`ProducerPerformance exited ${code}:\n${text.slice(-2000)}`)),
    );
  });
  const parsed = parseProducerPerformance(output);
  if (!parsed) throw new Error(`ProducerPerformance printed no result:\n${output.slice(-2000)}`);
  return { ...parsed, producerProps };
}
