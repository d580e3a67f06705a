import { z } from "zod";
import { TRANSACTION_STATUSES, TRANSACTION_TYPES } from "../transaction.js";

/**
 * Zod schemas of the HTTP responses whose shapes the handlers declare as TypeScript interfaces
 * (lib/reports/list.ts TransactionView/ReportPage, lib/http/problem.ts Problem, the 202 bodies of
 * handlers/transaction(s).ts). lib/openapi.ts documents them; test/unit/api-schemas.test.ts checks
 * at compile time that each equals its interface, and the integration tests parse real responses
 * with them, so the document cannot drift from what the handlers send.
 */

/** NUMERIC(18, 2) as PostgreSQL prints it: exact, always 2 decimals ("181.00"). */
export const StoredMoney = z.string().regex(/^\d{1,16}\.\d{2}$/, "a decimal string with 2 decimal places");

export const FieldIssue = z.strictObject({
  field: z
    .string()
    .meta({ description: 'Where: a body path ("amount", "[3].amount") or a parameter name; "$" is the value itself.' }),
  reason: z.string(),
});

/** The JSON body of every error response (lib/http/problem.ts problemResponse). */
export const Problem = z.strictObject({
  status: z.int().min(400).max(599),
  error: z.string().meta({ description: "The HTTP reason phrase." }),
  message: z.string(),
  issues: z.array(FieldIssue).optional().meta({ description: "Each bad field and why (400 and 422 only)." }),
});

/** 202 of POST /transaction. */
export const Accepted = z.strictObject({
  id: z.uuid().meta({ description: "Time-ordered (UUIDv7); GET /transactions/{id} shows the row once stored." }),
  status: z.literal("Accepted"),
});

/** 202 of POST /transactions. */
export const BulkAccepted = z.strictObject({
  status: z.literal("Accepted"),
  count: z.int().min(1),
  ids: z.array(z.uuid()).meta({ description: "In the order of the request." }),
});

/** A stored transaction (lib/reports.ts TransactionView). */
export const StoredTransaction = z.strictObject({
  id: z.uuid(),
  step: z.int().min(0),
  type: z.enum(TRANSACTION_TYPES),
  amount: StoredMoney,
  nameOrig: z.string(),
  oldbalanceOrg: StoredMoney,
  newbalanceOrig: StoredMoney,
  nameDest: z.string(),
  oldbalanceDest: StoredMoney,
  newbalanceDest: StoredMoney,
  isFraud: z.boolean(),
  isFlaggedFraud: z.boolean(),
  status: z.enum(TRANSACTION_STATUSES),
  receivedAt: z.iso.datetime(),
  persistedAt: z.iso.datetime(),
  kafka: z
    .strictObject({ topic: z.string(), partition: z.int().min(0), offset: z.int().min(0) })
    .nullable()
    .meta({ description: "Where the consumer read it; null for seeded (Historical) rows." }),
});

/** GET /reports (lib/reports.ts ReportPage). */
export const ReportPage = z.strictObject({
  items: z.array(StoredTransaction),
  nextCursor: z.string().nullable().meta({ description: "Pass as `cursor` for the next (older) page; null on the last page." }),
});

/** GET /transactions/{id}'s path. */
export const TransactionIdParams = z.strictObject({
  id: z.uuid().meta({ description: "The id POST /transaction answered with." }),
});
