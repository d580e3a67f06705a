import type { MSKEvent, MSKRecord, MSKRecordHeader, SelfManagedKafkaEvent } from "aws-lambda";
import type { IHeaders, KafkaMessage } from "kafkajs";

/**
 * The event Lambda's MSK trigger delivers: records grouped under "<topic>-<partition>", keys and values
 * base64, headers as one-entry objects holding byte arrays. The local poller builds exactly this, and
 * the consume handler reads exactly this, so both run the same code path as on AWS.
 * https://docs.aws.amazon.com/lambda/latest/dg/with-msk.html
 */
export interface PartitionBatch {
  topic: string;
  partition: number;
  messages: (Pick<KafkaMessage, "key" | "value" | "offset" | "timestamp" | "headers"> & { attributes?: number })[];
}

export interface MskEventSource {
  bootstrapServers: string[];
  /** The cluster ARN on AWS; locally a recognisable placeholder. */
  eventSourceArn: string;
}

function headersToMsk(headers: IHeaders | undefined): MSKRecordHeader[] {
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

function recordsOf(batches: PartitionBatch[]): MSKEvent["records"] {
  const records: MSKEvent["records"] = {};
  for (const { topic, partition, messages } of batches) {
    if (!messages.length) continue;
    const name = `${topic}-${partition}`;
    records[name] ??= [];
    const list = records[name];
    for (const message of messages) {
      const record: MSKRecord = {
        topic,
        partition,
        offset: Number(message.offset),
        timestamp: Number(message.timestamp),
        timestampType: (message.attributes ?? 0) & LOG_APPEND_TIME_ATTRIBUTE ? "LOG_APPEND_TIME" : "CREATE_TIME",
        // Lambda omits the key of a keyless record; the type says string, so only set it when present.
        ...(message.key ? { key: message.key.toString("base64") } : {}),
        value: message.value ? message.value.toString("base64") : "",
        headers: headersToMsk(message.headers),
      } as MSKRecord;
      list.push(record);
    }
  }
  return records;
}

export function buildMskEvent(batches: PartitionBatch[], source: MskEventSource): MSKEvent {
  return {
    eventSource: "aws:kafka",
    eventSourceArn: source.eventSourceArn,
    bootstrapServers: source.bootstrapServers.join(","),
    records: recordsOf(batches),
  };
}

/**
 * What Lambda's self-managed Apache Kafka trigger delivers (serverless.yml `kafka` events): the same records,
 * `eventSource: "SelfManagedKafka"` and no ARN. https://docs.aws.amazon.com/lambda/latest/dg/with-kafka.html
 */
export function buildSelfManagedKafkaEvent(batches: PartitionBatch[], bootstrapServers: string[]): SelfManagedKafkaEvent {
  return {
    eventSource: "SelfManagedKafka",
    bootstrapServers: bootstrapServers.join(","),
    records: recordsOf(batches) as SelfManagedKafkaEvent["records"],
  };
}

/** A record decoded from an MSK event: the payload bytes plus where it came from. */
export interface DecodedRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: string | null;
  value: Buffer;
  headers: Record<string, string>;
}

export class MskEventShapeError extends Error {
  override name = "MskEventShapeError";
}

/** Flattens and decodes an MSK (or self-managed Kafka) event, partitions in key order, offsets ascending. */
export function decodeMskEvent(event: unknown): DecodedRecord[] {
  const candidate = event as Partial<MSKEvent> | null;
  if (!candidate || typeof candidate !== "object" || !candidate.records || typeof candidate.records !== "object") {
    throw new MskEventShapeError("not an MSK event: missing records");
  }
  const decoded: DecodedRecord[] = [];
  for (const list of Object.values(candidate.records)) {
    if (!Array.isArray(list)) throw new MskEventShapeError("not an MSK event: records must map to arrays");
    for (const record of list) {
      const headers: Record<string, string> = {};
      for (const header of record.headers ?? []) {
        for (const [name, bytes] of Object.entries(header)) headers[name] = Buffer.from(bytes).toString("utf8");
      }
      decoded.push({
        topic: record.topic,
        partition: record.partition,
        offset: Number(record.offset),
        timestamp: Number(record.timestamp),
        key: record.key ? Buffer.from(record.key, "base64").toString("utf8") : null,
        value: Buffer.from(record.value ?? "", "base64"),
        headers,
      });
    }
  }
  return decoded;
}
