import { spawnSync } from "node:child_process";
import { existsSync, renameSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The pinned Apache Kafka release; its jars come from Maven Central via infra/kafka/pom.xml. */
export const KAFKA_VERSION = "3.9.1";
const POM = resolve(dirname(fileURLToPath(import.meta.url)), "../../infra/kafka/pom.xml");

export interface MavenJars {
  /** The Maven project whose runtime dependencies make the classpath. */
  pom: string;
  /** The folder the jars are copied into (java's `-cp <libs>/*`). */
  libs: string;
  /** A jar in `libs` that says they are all there (the folder is renamed into place only once complete). */
  markerJar: string;
  /** What the jars are, for the error message. */
  name: string;
}

/**
 * Resolves `pom`'s runtime classpath with Maven into `libs` once and returns `libs`.
 * Maven's own ~/.m2 cache makes later resolutions offline.
 */
export function ensureMavenJars({ pom, libs, markerJar, name }: MavenJars): string {
  if (existsSync(join(libs, markerJar))) return libs;
  const staging = `${libs}.partial`;
  rmSync(staging, { recursive: true, force: true });
  const mvn = spawnSync(
    "mvn",
    ["-B", "-q", "-f", pom, "dependency:copy-dependencies", "-DincludeScope=runtime", `-DoutputDirectory=${staging}`],
    { encoding: "utf8" },
  );
  if (mvn.status !== 0) {
    throw new Error(`Maven could not resolve ${name}:\n${mvn.stdout}${mvn.stderr}`);
  }
  renameSync(staging, libs);
  return libs;
}

/** The broker's runtime classpath, in `<cacheDir>/kafka/libs-<version>`. */
export function ensureKafkaJars(cacheDir: string): string {
  return ensureMavenJars({
    pom: POM,
    libs: join(cacheDir, "kafka", `libs-${KAFKA_VERSION}`),
    markerJar: `kafka_2.13-${KAFKA_VERSION}.jar`,
    name: `Kafka ${KAFKA_VERSION}'s jars`,
  });
}
