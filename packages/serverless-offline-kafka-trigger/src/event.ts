import type { MSKEvent, MSKRecord, MSKRecordHeader, SelfManagedKafkaEvent } from "aws-lambda";
import type { IHeaders, KafkaMessage } from "kafkajs";

/**
 * The events Lambda's Kafka event source mapping delivers (with-msk.html, with-kafka.html): records grouped
 * under "<topic>-<partition>", keys and values base64, headers as one-entry objects holding byte arrays.
 * A tombstone (a record with no value) keeps `value: null`, as AWS delivers it; a keyless record has no `key`.
 */
export interface PartitionRecords {
  topic: string;
  partition: number;
  messages: (Pick<KafkaMessage, "key" | "value" | "offset" | "timestamp" | "headers"> & { attributes?: number })[];
}

/** A record of an event; `value` is null for a tombstone (the aws-lambda types say string). */
export type KafkaEventRecord = Omit<MSKRecord, "value"> & { value: string | null };

function headersOf(headers: IHeaders | undefined): MSKRecordHeader[] {
  if (!headers) return [];
  const result: MSKRecordHeader[] = [];
  for (const [name, value] of Object.entries(headers)) {
    // KafkaJS gives repeated headers as arrays; Lambda lists each occurrence as its own object.
    for (const one of Array.isArray(value) ? value : [value]) {
      if (one === undefined) continue;
      result.push({ [name]: [...(Buffer.isBuffer(one) ? one : Buffer.from(String(one)))] });
    }
  }
  return result;
}

/** Bit 3 of a record batch's attributes: the timestamp is the broker's append time (topic setting LogAppendTime). */
const LOG_APPEND_TIME_ATTRIBUTE = 0x08;

/** One record as an event carries it. */
export function eventRecord(topic: string, partition: number, message: PartitionRecords["messages"][number]): KafkaEventRecord {
  return {
    topic,
    partition,
    offset: Number(message.offset),
    timestamp: Number(message.timestamp),
    timestampType: (message.attributes ?? 0) & LOG_APPEND_TIME_ATTRIBUTE ? "LOG_APPEND_TIME" : "CREATE_TIME",
    ...(message.key ? { key: message.key.toString("base64") } : {}),
    value: message.value ? message.value.toString("base64") : null,
    headers: headersOf(message.headers),
  } as KafkaEventRecord;
}

function recordsOf(batches: PartitionRecords[]): MSKEvent["records"] {
  const records: Record<string, KafkaEventRecord[]> = {};
  for (const { topic, partition, messages } of batches) {
    if (!messages.length) continue;
    const name = `${topic}-${partition}`;
    records[name] ??= [];
    const list = records[name];
    for (const message of messages) list.push(eventRecord(topic, partition, message));
  }
  return records as MSKEvent["records"];
}

/** Amazon MSK's event (`msk` in serverless.yml): eventSource "aws:kafka" and the cluster's ARN. */
export function buildMskEvent(
  batches: PartitionRecords[],
  source: { bootstrapServers: string[]; eventSourceArn: string },
): MSKEvent {
  return {
    eventSource: "aws:kafka",
    eventSourceArn: source.eventSourceArn,
    bootstrapServers: source.bootstrapServers.join(","),
    records: recordsOf(batches),
  };
}

/** Self-managed Apache Kafka's event (`kafka` in serverless.yml): eventSource "SelfManagedKafka", no ARN. */
export function buildSelfManagedKafkaEvent(batches: PartitionRecords[], bootstrapServers: string[]): SelfManagedKafkaEvent {
  return {
    eventSource: "SelfManagedKafka",
    bootstrapServers: bootstrapServers.join(","),
    records: recordsOf(batches) as SelfManagedKafkaEvent["records"],
  };
}
