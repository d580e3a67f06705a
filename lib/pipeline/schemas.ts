import { z } from "zod";
import { DeadLetterReason } from "../consumer/reasons.js";
import { DependencyHealth } from "../health-schema.js";

/** The "now" rates average the last this many complete seconds. */
export const RATE_AVERAGE_SECONDS = 10;
/** Dead letters listed one by one (newest first); their detail is cut to this many characters. */
export const RECENT_DEAD_LETTERS = 10;
export const DEAD_LETTER_DETAIL_CHARS = 300;

const Count = z.int().min(0);

export const ConsumerHealth = DependencyHealth.extend({
  groupId: z.string(),
  state: z.string().meta({ description: "Kafka's group state: Stable, PreparingRebalance, CompletingRebalance, Empty, Dead." }),
  members: Count.meta({ description: "Consumers in the group (the local trigger's pollers, workers, Lambda's pollers)." }),
}).meta({
  description: '"up" while the consumer group has members; "down" when it has none (nothing consumes) or Kafka does not answer.',
});
export type ConsumerHealth = z.infer<typeof ConsumerHealth>;

export const Throughput = z
  .strictObject({
    windowSeconds: z.int(),
    acceptedPerSecond: z
      .number()
      .min(0)
      .meta({ description: `Average over the last ${RATE_AVERAGE_SECONDS} complete seconds.` }),
    storedPerSecond: z
      .number()
      .min(0)
      .meta({ description: `Average over the last ${RATE_AVERAGE_SECONDS} complete seconds.` }),
    series: z
      .array(z.strictObject({ at: z.iso.datetime(), accepted: Count, stored: Count }))
      .meta({ description: "One entry per second, oldest first, ending at the last complete second (the database's clock)." }),
  })
  .meta({
    description:
      "From the database: accepted counts stored transactions (status Completed) by the second the API accepted them " +
      "(received_at), stored by the second the consumer committed them (persisted_at). Seeded rows are not counted.",
  });
export type Throughput = z.infer<typeof Throughput>;

/** One partition of a consumer group's topic: how far its committed offset is behind the partition's end. */
export const PartitionLag = z.strictObject({
  partition: Count,
  /** The partition's end (the offset the next record will get). */
  highWatermark: Count,
  /** The group's committed offset (the next record it will read). */
  committedOffset: Count.nullable().meta({ description: "null before the group's first commit on the partition." }),
  /** highWatermark - committedOffset; before a first commit, every record still retained (TRIM_HORIZON). */
  lag: Count,
});
export type PartitionLag = z.infer<typeof PartitionLag>;

export const ConsumerGroupLag = z.strictObject({
  topic: z.string(),
  groupId: z.string(),
  total: Count,
  partitions: z.array(PartitionLag),
});
export type ConsumerGroupLag = z.infer<typeof ConsumerGroupLag>;

export const DeadLetterSummary = z
  .strictObject({
    total: Count,
    byReason: z.array(z.strictObject({ reason: DeadLetterReason, count: Count, lastAt: z.iso.datetime() })),
    recent: z
      .array(
        z.strictObject({
          id: Count,
          reason: DeadLetterReason,
          detail: z.string().meta({ description: `Cut to ${DEAD_LETTER_DETAIL_CHARS} characters.` }),
          partition: Count,
          offset: Count,
          createdAt: z.iso.datetime(),
        }),
      )
      .meta({ description: `The newest ${RECENT_DEAD_LETTERS}.` }),
  })
  .meta({ description: "Dead letters of the transactions topic recorded in the dead_letters table." });
export type DeadLetterSummary = z.infer<typeof DeadLetterSummary>;

/** GET /pipeline/stats: what the dashboard shows. */
export const PipelineStats = z.strictObject({
  at: z.iso.datetime(),
  topic: z.string(),
  health: z.strictObject({ kafka: DependencyHealth, database: DependencyHealth, consumer: ConsumerHealth }),
  throughput: Throughput.nullable().meta({ description: "null while the database does not answer." }),
  lag: ConsumerGroupLag.nullable().meta({ description: "null while Kafka does not answer." }),
  deadLetters: DeadLetterSummary.nullable().meta({ description: "null while the database does not answer." }),
  deadLetterTopic: z
    .strictObject({
      topic: z.string(),
      messages: Count.meta({ description: "Messages retained on the topic, whoever wrote them." }),
    })
    .nullable()
    .meta({ description: "The dead-letter topic as Kafka counts it; null while Kafka does not answer." }),
  unavailable: z
    .strictObject({
      throughput: z.string().optional(),
      lag: z.string().optional(),
      deadLetters: z.string().optional(),
      deadLetterTopic: z.string().optional(),
    })
    .meta({ description: "Why each part that is null could not be read (a timeout, a SQLSTATE, an error code)." }),
});
export type PipelineStats = z.infer<typeof PipelineStats>;
/** A part of the stats that is null, with the reason in `unavailable`, while its dependency does not answer. */
export type StatsPart = keyof PipelineStats["unavailable"];

/** An answer of GET /pipeline/stats (the OpenAPI document shows it). */
export const pipelineStatsExample = {
  at: "2025-06-18T09:30:14.002Z",
  topic: "transactions",
  health: {
    kafka: { status: "up", latencyMs: 3 },
    database: { status: "up", latencyMs: 1 },
    consumer: { status: "up", latencyMs: 4, groupId: "txlog-consume", state: "Stable", members: 1 },
  },
  throughput: {
    windowSeconds: 3,
    acceptedPerSecond: 351.7,
    storedPerSecond: 349.3,
    series: [
      { at: "2025-06-18T09:30:11.000Z", accepted: 352, stored: 340 },
      { at: "2025-06-18T09:30:12.000Z", accepted: 349, stored: 355 },
      { at: "2025-06-18T09:30:13.000Z", accepted: 354, stored: 353 },
    ],
  },
  lag: {
    topic: "transactions",
    groupId: "txlog-consume",
    total: 12,
    partitions: [
      { partition: 0, highWatermark: 18_412, committedOffset: 18_405, lag: 7 },
      { partition: 1, highWatermark: 17_980, committedOffset: 17_975, lag: 5 },
      { partition: 2, highWatermark: 18_133, committedOffset: 18_133, lag: 0 },
    ],
  },
  deadLetters: {
    total: 1,
    byReason: [{ reason: "undecodable", count: 1, lastAt: "2025-06-18T09:12:40.511Z" }],
    recent: [
      {
        id: 1,
        reason: "undecodable",
        detail: "not UTF-8 JSON: Unexpected token 'h', \"hello\" is not valid JSON",
        partition: 1,
        offset: 17_001,
        createdAt: "2025-06-18T09:12:40.511Z",
      },
    ],
  },
  deadLetterTopic: { topic: "transactions.dead-letter", messages: 1 },
  unavailable: {},
} satisfies PipelineStats;
