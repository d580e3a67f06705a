import { isLosslessNumber, type LosslessNumber } from "lossless-json";
import { z } from "zod";
import { DecimalFormatError, integerDigitsOf, scaleOf, toPlainDecimal } from "./money.js";

export const TRANSACTION_TYPES = ["CASH_IN", "CASH_OUT", "DEBIT", "PAYMENT", "TRANSFER"] as const;
export type TransactionType = (typeof TRANSACTION_TYPES)[number];

/** Matches the database columns: NUMERIC(18, 2). */
export const MONEY_SCALE = 2;
export const MONEY_INTEGER_DIGITS = 16;

/** A JSON number whose digits a double could not hold arrives as a LosslessNumber (lib/http/json-body.ts): its digits. */
const exactDigits = (value: unknown) => (isLosslessNumber(value) ? (value as LosslessNumber).value : value);

/** Any notation -> the canonical plain decimal, or an issue: not a number, negative, or more than NUMERIC(18, 2) holds. */
function toMoney(value: string | number, ctx: z.RefinementCtx): string {
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
}

/**
 * A money value: a JSON number or a decimal string (E-notation allowed, as PaySim writes it),
 * normalised to an exact plain decimal string. Rejects values the column could not hold exactly.
 */
export const Money = z.preprocess(exactDigits, z.union([z.number(), z.string()]).transform(toMoney));

/** PaySim's 0/1 flags; JSON clients may also send booleans. */
const Flag = z.union([z.literal(0), z.literal(1), z.boolean()]).transform((value) => value === true || value === 1);

export const AccountName = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "1 to 64 letters, digits, '_' or '-'");

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

/** Money in a Kafka message: the decimal string the API wrote; a JSON number there would have passed through a double. */
const MoneyText = z.string({ error: "expected a decimal string" }).transform(toMoney);

/** The transaction inside a message: as the API accepts it, but money only as exact strings. */
const MessageTransaction = TransactionInput.extend({
  amount: MoneyText,
  oldbalanceOrg: MoneyText,
  newbalanceOrig: MoneyText,
  oldbalanceDest: MoneyText,
  newbalanceDest: MoneyText,
});

/** Years a message's receivedAt may carry: what PostgreSQL's timestamptz and JavaScript's Date both hold exactly. */
const MIN_RECEIVED_YEAR = 1970;
const MAX_RECEIVED_YEAR = 9999;

/**
 * An ISO 8601 instant that is a real calendar date in range: zod's format check alone lets through
 * "0000-01-01T00:00:00Z" (PostgreSQL rejects the batch) and "2024-02-30T..." (Date rolls it into March).
 */
export const ReceivedAt = z.iso.datetime({ offset: true }).refine((text) => {
  const date = new Date(text);
  const year = date.getUTCFullYear();
  if (Number.isNaN(date.getTime()) || year < MIN_RECEIVED_YEAR || year > MAX_RECEIVED_YEAR) return false;
  // The calendar date as written must be the one Date understood (no rolling over), in UTC or its own offset.
  const [written] = text.split("T");
  const offsetMatch = /([+-])(\d{2}):?(\d{2})$/.exec(text);
  const offsetMinutes = offsetMatch
    ? (offsetMatch[1] === "-" ? -1 : 1) * (Number(offsetMatch[2]) * 60 + Number(offsetMatch[3]))
    : 0;
  const local = new Date(date.getTime() + offsetMinutes * 60_000).toISOString().split("T")[0];
  return local === written;
}, `a real date and time from ${MIN_RECEIVED_YEAR} to ${MAX_RECEIVED_YEAR}`);

/**
 * What the API produces to Kafka, one message per transaction, keyed by nameOrig.
 * The consumer validates it again: the topic may hold anything anyone produced.
 */
export const TransactionMessage = z.strictObject({
  id: z.uuid(),
  receivedAt: ReceivedAt,
  transaction: MessageTransaction,
  /** The client's Idempotency-Key, when it sent one (the id is then derived from it: lib/idempotency.ts). */
  idempotencyKey: z.string().min(1).max(255).optional(),
  /** sha256 (hex) of the request's canonical body; stored with the row so a reused key with another body is detected. */
  fingerprint: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
});
export type TransactionMessage = z.output<typeof TransactionMessage>;

/**
 * Real PaySim rows (step 1 of the published data set) as clients send them: a payment as JSON numbers, a
 * fraudulent transfer as PaySim's decimal strings, a transfer with E-notation. The OpenAPI document shows
 * them and the tests send them.
 */
export const paysimExamples = {
  payment: {
    step: 1,
    type: "PAYMENT",
    amount: 9839.64,
    nameOrig: "C1231006815",
    oldbalanceOrg: 170136.0,
    newbalanceOrig: 160296.36,
    nameDest: "M1979787155",
    oldbalanceDest: 0,
    newbalanceDest: 0,
    isFraud: 0,
    isFlaggedFraud: 0,
  },
  fraudTransfer: {
    step: 1,
    type: "TRANSFER",
    amount: "181.0",
    nameOrig: "C1305486145",
    oldbalanceOrg: "181.0",
    newbalanceOrig: "0.0",
    nameDest: "C553264065",
    oldbalanceDest: "0.0",
    newbalanceDest: "0.0",
    isFraud: 1,
    isFlaggedFraud: 0,
  },
  transferENotation: {
    step: 1,
    type: "TRANSFER",
    amount: "379856.23",
    nameOrig: "C1449772539",
    oldbalanceOrg: "0.0",
    newbalanceOrig: "0.0",
    nameDest: "C1590550415",
    oldbalanceDest: "900180.0",
    newbalanceDest: "1.916920493E7",
    isFraud: false,
    isFlaggedFraud: false,
  },
} as const satisfies Record<string, TransactionInput>;
