import type { MSKEvent } from "aws-lambda";

/**
 * The event Lambda's MSK trigger delivers (https://docs.aws.amazon.com/lambda/latest/dg/with-msk.html):
 * records grouped under "<topic>-<partition>", keys and values base64, headers as one-entry objects holding
 * byte arrays. The local trigger (serverless-offline-kafka-trigger's buildMskEvent) builds exactly this, and
 * the consume handler reads it here, so both run the same code path as on AWS.
 */

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
