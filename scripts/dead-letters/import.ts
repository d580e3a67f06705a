import type { Kafka, KafkaMessage } from "kafkajs";
import { safeText } from "../../lib/consumer/classify.js";
import type { Database } from "../../lib/db/client.js";
import { type PartitionRange, readRanges } from "../replay/range.js";
import { insertDeadLetterRows, type NewDeadLetterRow } from "./store.js";

/**
 * The trigger's on-failure destination (plugins/offline-kafka, and Lambda's on AWS) writes the records it
 * gave up on (function-error, function-timeout) to the dead-letter topic only. They are imported into
 * dead_letters here, keyed by their source offset like the consumer's own rows, so one table lists and
 * redrives every dead letter. The consumer's own dead letters are on the topic too: their rows exist
 * already (written in the batch's database transaction, before the topic copy) and are left as they are.
 * What was imported is remembered as this group's committed offsets on the topic; the group never joins.
 */
export const IMPORT_GROUP_ID = "txlog-dead-letter-import";

/** Key and detail columns are cut as the consumer cuts them (lib/consumer/dead-letters.ts). */
const MAX_TEXT_CHARS = 1_000;

export interface ImportSummary {
  topic: string;
  /** Messages read from the topic since the last import. */
  read: number;
  /** Rows added (the rest were kept already, or were not dead letters). */
  imported: number;
  /** Messages without the source headers every dead letter carries. */
  unrecognised: number;
}

function headerText(message: KafkaMessage, name: string): string | undefined {
  const value = message.headers?.[name];
  const one = Array.isArray(value) ? value[0] : value;
  return one === undefined ? undefined : Buffer.isBuffer(one) ? one.toString("utf8") : String(one);
}

/** The dead_letters row of a dead-letter topic message, or undefined when it names no source. */
export function rowOfDeadLetterMessage(message: KafkaMessage): NewDeadLetterRow | undefined {
  const topic = headerText(message, "source-topic");
  const partition = Number(headerText(message, "source-partition"));
  const offset = Number(headerText(message, "source-offset"));
  const reason = headerText(message, "dead-letter-reason");
  if (!topic || !reason || !Number.isSafeInteger(partition) || !Number.isSafeInteger(offset)) return undefined;
  // A record too large to copy arrives as a reference: no value, the reason in this header.
  const omitted = headerText(message, "dead-letter-value");
  const detail = [headerText(message, "dead-letter-detail"), omitted && `value ${omitted}`].filter(Boolean).join("; ");
  const timestamp = Number(message.timestamp);
  return {
    topic: safeText(topic, MAX_TEXT_CHARS),
    partition,
    offset,
    key: message.key ? safeText(message.key.toString("utf8"), MAX_TEXT_CHARS) : null,
    value: message.value && !omitted ? message.value.toString("base64") : null,
    reason: safeText(reason, 100),
    detail: safeText(detail),
    ...(Number.isFinite(timestamp) && timestamp > 0 ? { createdAt: new Date(timestamp) } : {}),
  };
}

export interface ImportOptions {
  kafka: Kafka;
  db: Database;
  /** The dead-letter topic (config.DEAD_LETTER_TOPIC). */
  topic: string;
  groupId?: string;
}

/** Imports what the topic received since the last import (all of it the first time). */
export async function importDeadLetterTopic(options: ImportOptions): Promise<ImportSummary> {
  const { kafka, db, topic } = options;
  const groupId = options.groupId ?? IMPORT_GROUP_ID;
  const summary: ImportSummary = { topic, read: 0, imported: 0, unrecognised: 0 };
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(topic)) return summary;
    const ends = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const done = new Map((committed?.partitions ?? []).map(({ partition, offset }) => [partition, Number(offset)]));
    const ranges: PartitionRange[] = ends.map(({ partition, low, high }) => ({
      partition,
      from: Math.max(done.get(partition) ?? -1, Number(low)),
      to: Number(high),
    }));
    await readRanges(kafka, topic, ranges, async (_partition, messages) => {
      summary.read += messages.length;
      const rows = messages.map(rowOfDeadLetterMessage);
      const known = rows.filter((row): row is NewDeadLetterRow => row !== undefined);
      summary.unrecognised += rows.length - known.length;
      summary.imported += await insertDeadLetterRows(db, known);
    });
    const moved = ranges.filter(({ from, to }) => to > from);
    if (moved.length) {
      await admin.setOffsets({
        groupId,
        topic,
        partitions: moved.map(({ partition, to }) => ({ partition, offset: String(to) })),
      });
    }
    return summary;
  } finally {
    await admin.disconnect();
  }
}
