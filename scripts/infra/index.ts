/**
 * scripts/infra: what brings Kafka and PostgreSQL up on a developer machine. This file is the one
 * face tests and bench import (never kafka-broker.ts, postgres.ts or settings.ts directly).
 */
export { internalReplication, type NativeBrokerOptions, NativeKafkaBroker, type SaslSslListener } from "./kafka-broker.js";
export {
  clusterLayout,
  type NativeClusterOptions,
  NativeKafkaCluster,
  type NodeLayout,
  type QuorumStatus,
  quorumStatus,
} from "./kafka-cluster.js";
export { type ClientSecurity, kafkaAnswers, kafkaBrokerCount } from "./kafka-probe.js";
export { ensureKafkaJars, ensureMavenJars, KAFKA_VERSION } from "./maven-jars.js";
export {
  databaseName,
  dropDatabase,
  ensureDatabase,
  findPostgresBin,
  freePort,
  PrivatePostgres,
  type PrivatePostgresOptions,
  postgresAnswers,
  withDatabase,
} from "./postgres.js";
export { commandSucceeds, isAlive, stopProcess, waitFor } from "./process.js";
export {
  applyRecordedDatabaseUrl,
  applyRecordedInfra,
  applyRecordedKafkaBrokers,
  type InfraSettings,
  InfraSettingsError,
  infraSettings,
  infraStateFile,
  loadInfraSettings,
  OFFLINE_NODE_FLAGS,
  recordedDatabaseUrl,
  recordedKafkaBrokers,
} from "./settings.js";

export {
  type InfraPaths,
  type InfraState,
  type InfraTarget,
  nativeBroker,
  nativeCluster,
  type RecordedNode,
  readState,
} from "./state.js";
export { type InfraStatus, infraStatus, type NodeStatus } from "./status.js";
export {
  dockerEngineAnswers,
  type InfraUpOptions,
  infraDown,
  infraUp,
  PrerequisiteError,
  type Progress,
  stopNativeKafka,
} from "./up.js";
