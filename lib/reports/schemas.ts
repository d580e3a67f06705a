import { z } from "zod";
import { TRANSACTION_STATUSES, TRANSACTION_TYPES } from "../transaction.js";

/** byStep lists at most this many steps (the lowest); narrow stepFrom/stepTo for the rest. PaySim spans 743. */
export const MAX_SUMMARY_STEPS = 1_000;

/** NUMERIC(18, 2) as PostgreSQL prints it: exact, always 2 decimals ("181.00"). */
export const StoredMoney = z.string().regex(/^\d{1,16}\.\d{2}$/, "a decimal string with 2 decimal places");

/** A stored transaction as the API shows it (GET /transactions/{id}, GET /reports). */
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
export type StoredTransaction = z.output<typeof StoredTransaction>;

/** GET /reports: one keyset page, newest first. */
export const ReportPage = z.strictObject({
  items: z.array(StoredTransaction),
  nextCursor: z.string().nullable().meta({ description: "Pass as `cursor` for the next (older) page; null on the last page." }),
});
export type ReportPage = z.output<typeof ReportPage>;

/** An exact sum of NUMERIC(18, 2) amounts as PostgreSQL prints it, always with 2 decimals. */
const DecimalSum = z.string().regex(/^\d+\.\d{2}$/, "a decimal string with 2 decimal places");
const Volume = { count: z.int().min(0), amount: DecimalSum };

/** GET /reports/summary. */
export const SummaryResponse = z.strictObject({
  filter: z
    .strictObject({
      stepFrom: z.int().nullable(),
      stepTo: z.int().nullable(),
      type: z.enum(TRANSACTION_TYPES).nullable(),
      status: z.enum(TRANSACTION_STATUSES).nullable(),
    })
    .meta({ description: "The filters applied (null: not filtered), so a saved response says what it covers." }),
  count: Volume.count,
  amount: Volume.amount,
  byType: z
    .array(z.strictObject({ type: z.enum(TRANSACTION_TYPES), ...Volume }))
    .meta({ description: "Types with rows, in the order CASH_IN, CASH_OUT, DEBIT, PAYMENT, TRANSFER." }),
  byStatus: z
    .array(z.strictObject({ status: z.enum(TRANSACTION_STATUSES), ...Volume }))
    .meta({ description: "Statuses with rows: Historical (seeded), then Completed (through Kafka)." }),
  fraud: z.strictObject(Volume),
  flaggedFraud: z.strictObject(Volume),
  byStep: z
    .array(z.strictObject({ step: z.int().min(0), ...Volume }))
    .meta({ description: `Per-step volume, ascending, only steps that have rows; at most ${MAX_SUMMARY_STEPS} (the lowest).` }),
  byStepTruncated: z
    .literal(true)
    .optional()
    .meta({ description: `Present when more than ${MAX_SUMMARY_STEPS} steps have rows: narrow stepFrom/stepTo for the rest.` }),
});
export type Summary = z.output<typeof SummaryResponse>;

/** A stored PaySim payment (the first row of the published data set) as the API shows it. */
export const storedPaymentExample = {
  id: "0197a5c2-6f3e-7b21-9c4d-5e8f1a2b3c4d",
  step: 1,
  type: "PAYMENT",
  amount: "9839.64",
  nameOrig: "C1231006815",
  oldbalanceOrg: "170136.00",
  newbalanceOrig: "160296.36",
  nameDest: "M1979787155",
  oldbalanceDest: "0.00",
  newbalanceDest: "0.00",
  isFraud: false,
  isFlaggedFraud: false,
  status: "Completed",
  receivedAt: "2025-06-18T09:30:12.345Z",
  persistedAt: "2025-06-18T09:30:12.912Z",
  kafka: { topic: "transactions", partition: 2, offset: 1841 },
} satisfies StoredTransaction;

/** A summary of step 1 of the seeded sample: its parts add up to its totals. */
export const summaryExample = {
  filter: { stepFrom: 1, stepTo: 1, type: null, status: null },
  count: 4,
  amount: "12065.92",
  byType: [
    { type: "CASH_OUT", count: 1, amount: "181.00" },
    { type: "PAYMENT", count: 2, amount: "11703.92" },
    { type: "TRANSFER", count: 1, amount: "181.00" },
  ],
  byStatus: [{ status: "Historical", count: 4, amount: "12065.92" }],
  fraud: { count: 2, amount: "362.00" },
  flaggedFraud: { count: 0, amount: "0.00" },
  byStep: [{ step: 1, count: 4, amount: "12065.92" }],
} satisfies Summary;
