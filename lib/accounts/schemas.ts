import { z } from "zod";
import { StoredMoney, StoredTransaction, storedPaymentExample } from "../reports/schemas.js";

/** An exact decimal that may be negative (an expected balance below zero), 2 decimals. */
const SignedMoney = z.string().regex(/^-?\d{1,17}\.\d{2}$/, "a decimal string with 2 decimal places");
/** An exact sum of NUMERIC(18, 2) amounts, always with 2 decimals. */
const DecimalSum = z.string().regex(/^\d+\.\d{2}$/, "a decimal string with 2 decimal places");
const Volume = z.strictObject({ count: z.int().min(0), amount: DecimalSum });

/** One side's balances that do not add up: PaySim's old balance +/- amount is not its new balance. */
export const BalanceMismatch = z.strictObject({
  side: z.enum(["origin", "destination"]),
  oldBalance: StoredMoney,
  newBalance: StoredMoney,
  expectedNewBalance: SignedMoney.meta({
    description: "old + amount (CASH_IN's origin, every other type's destination) or old - amount (the other legs).",
  }),
});
export type BalanceMismatch = z.output<typeof BalanceMismatch>;

/** A transaction in an account's view: the stored row, the account's role in it, and its balance flags. */
export const AccountTransaction = z.strictObject({
  role: z.enum(["origin", "destination", "both"]).meta({ description: "Whether the account is nameOrig, nameDest or both." }),
  transaction: StoredTransaction,
  balanceMismatches: z.array(BalanceMismatch).meta({
    description:
      "The account's own sides whose balances do not add up; empty when they do. Destinations named M... (merchants) are not " +
      "checked: PaySim records no balances for them.",
  }),
});
export type AccountTransaction = z.output<typeof AccountTransaction>;

const RoleTotals = z.strictObject({
  count: z.int().min(0),
  amount: DecimalSum,
  fraud: Volume,
  flaggedFraud: Volume,
  balanceMismatches: z.int().min(0).meta({ description: "Transactions in this role whose account side does not add up." }),
});

/** GET /accounts/{name}: the totals over all of the account's rows, and one keyset page of them. */
export const AccountView = z.strictObject({
  account: z.string(),
  asOf: z.iso.datetime().nullable().meta({ description: "The asOf applied (null: everything stored)." }),
  totals: z.strictObject({ asOrigin: RoleTotals, asDestination: RoleTotals }),
  items: z.array(AccountTransaction).meta({ description: "Newest first (receivedAt, then id, descending)." }),
  nextCursor: z.string().nullable().meta({ description: "Pass as `cursor` for the next (older) page; null on the last page." }),
});
export type AccountView = z.output<typeof AccountView>;

/** The origin of the stored PaySim payment: its balances add up (170136.00 - 9839.64 = 160296.36). */
export const accountViewExample = {
  account: storedPaymentExample.nameOrig,
  asOf: null,
  totals: {
    asOrigin: {
      count: 1,
      amount: "9839.64",
      fraud: { count: 0, amount: "0.00" },
      flaggedFraud: { count: 0, amount: "0.00" },
      balanceMismatches: 0,
    },
    asDestination: {
      count: 0,
      amount: "0.00",
      fraud: { count: 0, amount: "0.00" },
      flaggedFraud: { count: 0, amount: "0.00" },
      balanceMismatches: 0,
    },
  },
  items: [{ role: "origin", transaction: storedPaymentExample, balanceMismatches: [] }],
  nextCursor: null,
} satisfies AccountView;

/** A PaySim destination whose balances do not add up (the data set has many). */
export const balanceMismatchExample = {
  side: "destination",
  oldBalance: "1531275.78",
  newBalance: "0.00",
  expectedNewBalance: "1315248.46",
} satisfies BalanceMismatch;
