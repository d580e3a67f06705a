import { z } from "zod";
import { DecimalFormatError, integerDigitsOf, scaleOf, toPlainDecimal } from "./decimal.js";

export const TRANSACTION_TYPES = ["CASH_IN", "CASH_OUT", "DEBIT", "PAYMENT", "TRANSFER"] as const;
export type TransactionType = (typeof TRANSACTION_TYPES)[number];

/** Matches the database columns: NUMERIC(18, 2). */
export const MONEY_SCALE = 2;
export const MONEY_INTEGER_DIGITS = 16;

/**
 * A money value: a JSON number or a decimal string (E-notation allowed, as PaySim writes it),
 * normalised to an exact plain decimal string. Rejects values the column could not hold exactly.
 */
export const Money = z.union([z.number(), z.string()]).transform((value, ctx) => {
  let plain: string;
  try {
    plain = toPlainDecimal(value);
  } catch (error) {
    ctx.addIssue({ code: "custom", message: error instanceof DecimalFormatError ? error.message : "not a decimal number" });
    return z.NEVER;
  }
  if (plain.startsWith("-")) {
    ctx.addIssue({ code: "custom", message: "must not be negative" });
    return z.NEVER;
  }
  if (scaleOf(plain) > MONEY_SCALE) {
    ctx.addIssue({ code: "custom", message: `at most ${MONEY_SCALE} decimal places (got ${plain})` });
    return z.NEVER;
  }
  if (integerDigitsOf(plain) > MONEY_INTEGER_DIGITS) {
    ctx.addIssue({ code: "custom", message: `at most ${MONEY_INTEGER_DIGITS} digits before the decimal point` });
    return z.NEVER;
  }
  return plain;
});

/** PaySim's 0/1 flags; JSON clients may also send booleans. */
const Flag = z.union([z.literal(0), z.literal(1), z.boolean()]).transform((value) => value === true || value === 1);

const AccountName = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "1 to 64 letters, digits, '_' or '-'");

/** One PaySim transaction, the 11 columns, as the API accepts it. Output: amounts as exact decimal strings. */
export const TransactionInput = z.strictObject({
  step: z.number().int().min(0).max(1_000_000),
  type: z.enum(TRANSACTION_TYPES),
  amount: Money,
  nameOrig: AccountName,
  oldbalanceOrg: Money,
  newbalanceOrig: Money,
  nameDest: AccountName,
  oldbalanceDest: Money,
  newbalanceDest: Money,
  isFraud: Flag.default(false),
  isFlaggedFraud: Flag.default(false),
});

export type TransactionInput = z.input<typeof TransactionInput>;
export type Transaction = z.output<typeof TransactionInput>;

export const TRANSACTION_STATUSES = ["Historical", "Completed"] as const;
export type TransactionStatus = (typeof TRANSACTION_STATUSES)[number];

/**
 * What the API produces to Kafka, one message per transaction, keyed by nameOrig.
 * The consumer validates it again: the topic may hold anything anyone produced.
 */
export const TransactionMessage = z.strictObject({
  id: z.uuid(),
  receivedAt: z.iso.datetime({ offset: true }),
  transaction: TransactionInput,
  /** The client's Idempotency-Key, when it sent one (the id is then derived from it: lib/idempotency.ts). */
  idempotencyKey: z.string().min(1).max(255).optional(),
  /** sha256 (hex) of the request's canonical body; stored with the row so a reused key with another body is detected. */
  fingerprint: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
});
export type TransactionMessage = z.output<typeof TransactionMessage>;
