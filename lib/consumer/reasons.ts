import { z } from "zod";

/**
 * Why a record was dead-lettered: the consume function's reasons (poison, lib/consumer/classify.ts) and the
 * trigger's on-failure destination's (records it gave up on). The dead_letters table, the
 * txlog_dead_letters_total{reason} label, the dashboard's figures and the dead-letters CLI all use these.
 */
export const PoisonReason = z.enum([
  "oversized",
  "undecodable",
  "invalid",
  /** Valid by the schema, refused by the database (a SQLSTATE class 22 or 23 error for that row alone). */
  "rejected",
  "idempotency-conflict",
  "id-conflict",
]);
export type PoisonReason = z.infer<typeof PoisonReason>;

export const OnFailureReason = z.enum(["function-error", "function-timeout", "record-age-exceeded", "function-reported-failure"]);
export type OnFailureReason = z.infer<typeof OnFailureReason>;

/** Every dead-letter reason: the consumer's, then the trigger's. */
export const DeadLetterReason = z.enum([...PoisonReason.options, ...OnFailureReason.options]);
export type DeadLetterReason = z.infer<typeof DeadLetterReason>;
