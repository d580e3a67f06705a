import type { KafkaMessage } from "kafkajs";
import { describe, expect, it } from "vitest";
import { Batcher, type BatchPart, buildMskEvent } from "../../src/index.js";

/** `count` records of one partition, each with a value of `bytes` bytes. */
function records(count: number, bytes: number, firstOffset = 0): KafkaMessage[] {
  return Array.from({ length: count }, (_, index) => ({
    key: null,
    value: Buffer.alloc(bytes, 97),
    offset: String(firstOffset + index),
    timestamp: "0",
    attributes: 0,
    headers: {},
  }));
}

/** Lambda's limit on an invocation's payload (the event as JSON). */
const SIX_MB = 6 * 1024 * 1024;

describe("Batcher: Lambda's batch limits", () => {
  it("keeps each event under 6 MB, however many records batchSize allows; every record is delivered once", async () => {
    const events: BatchPart[][] = [];
    const batcher = new Batcher({
      batchSize: 10_000,
      maximumBatchingWindowMs: 60_000,
      deliver: async (parts) => {
        events.push(parts);
        return true;
      },
    });
    batcher.start();
    // Six partitions, each one record of 1 MB (about 1.33 MB in base64): together over 6 MB.
    const settled = Array.from({ length: 6 }, (_, partition) => batcher.submit("t", partition, records(1, 1024 * 1024)));
    batcher.flush();
    expect(await Promise.all(settled)).toEqual(Array(6).fill(true));
    await batcher.close();
    const sizes = events.map((parts) =>
      Buffer.byteLength(JSON.stringify(buildMskEvent(parts, { bootstrapServers: ["b:9092"], eventSourceArn: "arn" }))),
    );
    expect(events.length).toBeGreaterThan(1);
    expect(Math.max(...sizes)).toBeLessThan(SIX_MB);
    // The first event took as many as fitted: one more would have gone over.
    expect(sizes[0]).toBeGreaterThan(SIX_MB - 1.4 * 1024 * 1024);
    expect(
      events
        .flat()
        .map(({ partition }) => partition)
        .sort(),
    ).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it("gives an event at most batchSize records, in offset order", async () => {
    const delivered: string[][] = [];
    const batcher = new Batcher({
      batchSize: 4,
      maximumBatchingWindowMs: 60_000,
      deliver: async (parts) => {
        delivered.push(parts.flatMap(({ messages }) => messages.map(({ offset }) => offset)));
        return true;
      },
    });
    batcher.start();
    const settled = [0, 2, 4, 6, 8].map((first) => batcher.submit("t", 0, records(2, 10, first)));
    batcher.flush();
    await Promise.all(settled);
    await batcher.close();
    expect(delivered).toEqual([
      ["0", "1", "2", "3"],
      ["4", "5", "6", "7"],
      ["8", "9"],
    ]);
  });
});
