import { randomUUID } from "node:crypto";
import type { Message } from "kafkajs";
import type { BatchPart } from "./batcher.js";
import { eventRecord, type KafkaEventRecord } from "./event.js";
import { BatchItemFailuresError, RecordAgeExceededError } from "./failure-handling.js";
import type { FailureReason } from "./metrics.js";
import { errorMessages } from "./retry.js";
import { FunctionTimeoutError } from "./timeout.js";

/** What the destination knows of a batch given up on. */
export interface FailureContext {
  functionKey: string;
  error: unknown;
  /** Invocations of the batch (approximateInvokeCount); 0 when it was never invoked (too old). */
  attempts?: number;
  eventSourceArn?: string | undefined;
  bootstrapServers?: string[];
}

/** Builds the destination message of one failed record; the default is AWS's invocation record (awsFailureRecord). */
export type FailedRecordFormatter = (
  topic: string,
  partition: number,
  record: BatchPart["messages"][number],
  context: FailureContext,
  parts: BatchPart[],
) => Message;

/** Why records were given up on, as the `reason` of metrics and the host's own formats. */
export function failureReason(error: unknown): FailureReason {
  if (error instanceof FunctionTimeoutError) return "function-timeout";
  if (error instanceof RecordAgeExceededError) return "record-age-exceeded";
  if (error instanceof BatchItemFailuresError) return "function-reported-failure";
  return "function-error";
}

/** Lambda's `requestContext.condition` of an invocation record. */
function conditionOf(error: unknown): "RecordAgeExceeded" | "RetryAttemptsExhausted" {
  return error instanceof RecordAgeExceededError ? "RecordAgeExceeded" : "RetryAttemptsExhausted";
}

/** AWS's KafkaBatchInfo: the batch given up on, per "<topic>-<partition>" its first and last record. */
function batchInfo(parts: BatchPart[], context: FailureContext) {
  const recordsInfo: Record<string, Record<string, string>> = {};
  let batchSize = 0;
  let payloadSize = 0;
  for (const { topic, partition, messages } of parts) {
    const first = messages[0];
    const last = messages[messages.length - 1];
    if (!first || !last) continue;
    batchSize += messages.length;
    for (const message of messages) payloadSize += (message.value?.length ?? 0) + (message.key?.length ?? 0);
    recordsInfo[`${topic}-${partition}`] = {
      firstRecordOffset: first.offset,
      lastRecordOffset: last.offset,
      firstRecordTimestamp: new Date(Number(first.timestamp)).toISOString(),
      lastRecordTimestamp: new Date(Number(last.timestamp)).toISOString(),
    };
  }
  return {
    batchSize,
    ...(context.eventSourceArn ? { eventSourceArn: context.eventSourceArn } : {}),
    bootstrapServers: (context.bootstrapServers ?? []).join(","),
    payloadSize,
    recordsInfo,
  };
}

/** The JSON document of AWS's on-failure invocation record for a Kafka event source mapping, with the failed record as `payload`. */
export interface FailureRecordDocument {
  requestContext: { requestId: string; functionArn: string; condition: string; approximateInvokeCount: number };
  responseContext: { statusCode: number; executedVersion: string; functionError: string };
  version: "1.0";
  timestamp: string;
  KafkaBatchInfo: ReturnType<typeof batchInfo>;
  payload: KafkaEventRecord;
}

/**
 * AWS's on-failure record (kafka-on-failure.html): request context (condition RetryAttemptsExhausted or
 * RecordAgeExceeded, approximateInvokeCount), response context (functionError Unhandled), version,
 * timestamp and KafkaBatchInfo, plus the failed record itself under `payload` in the event's record shape
 * (a Kafka destination gets "the actual failed records"). One message per record, keyed by the record's own
 * key and carrying its headers, so a replay lands on the partition the record's key chose.
 */
export const awsFailureRecord: FailedRecordFormatter = (topic, partition, record, context, parts) => {
  const document: FailureRecordDocument = {
    requestContext: {
      requestId: randomUUID(),
      functionArn: `arn:aws:lambda:local:000000000000:function:${context.functionKey}`,
      condition: conditionOf(context.error),
      approximateInvokeCount: context.attempts ?? 0,
    },
    responseContext: {
      statusCode: 200,
      executedVersion: "$LATEST",
      functionError: context.error instanceof RecordAgeExceededError ? "" : "Unhandled",
    },
    version: "1.0",
    timestamp: new Date().toISOString(),
    KafkaBatchInfo: batchInfo(parts, context),
    payload: eventRecord(topic, partition, record),
  };
  return { key: record.key, value: JSON.stringify(document), headers: { ...record.headers } };
};

/** The error text a host's own format may carry, cut to a size fit for a header. */
export function failureDetail(error: unknown, maxChars = 1_000): string {
  return errorMessages(error).slice(0, maxChars);
}
