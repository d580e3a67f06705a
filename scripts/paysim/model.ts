import type { TransactionType } from "../../lib/transaction.js";

/**
 * The distributions the generator draws from, each fitted to the real PaySim sample
 * (data/paysim-sample.csv, 41,371 rows; see data/README.md). Log-normal parameters are the
 * mean and standard deviation of ln(value) per type. Shares are fractions of that type's rows
 * (python over the sample; the figures are checked against a generated file in test/unit/paysim-generator.test.ts).
 */

/** Type mix of the sample. */
export const TYPE_SHARES: Readonly<Record<TransactionType, number>> = {
  PAYMENT: 0.4592,
  CASH_OUT: 0.2511,
  CASH_IN: 0.1823,
  TRANSFER: 0.0933,
  DEBIT: 0.0141,
};

export interface LogNormal {
  mu: number;
  sigma: number;
}

/** PaySim caps a transaction at 10,000,000 (larger frauds are split); the sample has 2 at the cap. */
export const MAX_AMOUNT_CENTS = 1_000_000_000;
/** Truncation of the balance tails; the sample's largest balance is 31,306,920.44. */
export const MAX_BALANCE_CENTS = 5_000_000_000;

/**
 * The sample's amount quantiles at these probabilities (non-fraud rows of the type). Amounts are
 * drawn by inverting this CDF, interpolating in log space: the sample's amounts are skewed, so a
 * log-normal fitted by moments misses their median by 15-25%.
 */
export const AMOUNT_QUANTILE_PROBABILITIES = [
  0, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999, 1,
] as const;

export interface TypeModel {
  /** Amount quantiles at AMOUNT_QUANTILE_PROBABILITIES. */
  amount: readonly number[];
  /** Origin: share with old and new balance both 0.0 (CASH_IN: old 0.0, new = amount). */
  originZero: number;
  /** ln(old origin balance) when it is not zero. */
  originBalance: LogNormal;
  /** Share of non-zero old origin balances that are whole numbers ("170136.0"). */
  originWhole: number;
  /**
   * Share of rows with a non-zero new origin balance that is one cent off the rule (PaySim's float
   * arithmetic): 2,858 rows (6.9%) of the sample.
   */
  originCentDrift: number;
  /** Recipient balances, for C recipients (every type but PAYMENT). */
  dest?: {
    /** old = new = 0.0 */
    bothZero: number;
    /** old = 0.0, new > 0 */
    oldZeroOnly: number;
    /** old > 0, new = 0.0 */
    newZeroOnly: number;
    /** new = old + amount (CASH_IN: old - amount), exactly */
    reconciles: number;
    /** ln(old recipient balance) when it is not zero */
    balance: LogNormal;
  };
}

export const TYPE_MODELS: Readonly<Record<TransactionType, TypeModel>> = {
  PAYMENT: {
    amount: [
      1.77, 131.96, 649.96, 1297.53, 2617.89, 3951.56, 5443.24, 7093.32, 8958.66, 11265.35, 14509.41, 19829.65, 25712.02,
      38198.63, 53013.44, 69478.99,
    ],
    originZero: 0.248,
    originBalance: { mu: 10.287, sigma: 2.129 },
    originWhole: 0.672,
    originCentDrift: 0.0936,
  },
  TRANSFER: {
    amount: [
      306.8, 7868.27, 38037.49, 74984.73, 161228.23, 262310.47, 378098.84, 518566.05, 675782.98, 904680.51, 1216744.38,
      1674725.28, 2078098.05, 2957902.24, 3943197.2, 5677662.29,
    ],
    originZero: 0.448,
    originBalance: { mu: 10.214, sigma: 2.188 },
    originWhole: 0.733,
    originCentDrift: 0.139,
    dest: { bothZero: 0.013, oldZeroOnly: 0.128, newZeroOnly: 0.042, reconciles: 0.145, balance: { mu: 12.984, sigma: 2.482 } },
  },
  CASH_OUT: {
    amount: [
      71.29, 3328.92, 14945.47, 29963.07, 58420.05, 87960.62, 118072.76, 150698.62, 187572.39, 233508.39, 286484.59, 374461.61,
      444789.06, 582616.94, 770157.06, 1255048.95,
    ],
    originZero: 0.557,
    originBalance: { mu: 10.289, sigma: 2.19 },
    originWhole: 0.654,
    originCentDrift: 0.16,
    dest: { bothZero: 0.004, oldZeroOnly: 0.084, newZeroOnly: 0.061, reconciles: 0.188, balance: { mu: 12.795, sigma: 2.022 } },
  },
  DEBIT: {
    amount: [
      30.92, 146.46, 385.97, 628.15, 1137.12, 1710.93, 2307.29, 2850.01, 3528.77, 4240.1, 5346.82, 7324.49, 8727.04, 12661.18,
      64527.04, 94893.79,
    ],
    originZero: 0.06,
    originBalance: { mu: 9.965, sigma: 1.935 },
    originWhole: 0.836,
    originCentDrift: 0.036,
    dest: { bothZero: 0, oldZeroOnly: 0, newZeroOnly: 0.17, reconciles: 0.26, balance: { mu: 11.219, sigma: 1.948 } },
  },
  CASH_IN: {
    amount: [
      57.98, 2775.38, 13025.62, 25586.58, 50134.41, 77109.21, 107578.97, 140722.86, 175247.06, 215890.33, 267547.98, 343689.94,
      411208.16, 595466.81, 864856.59, 1289407.91,
    ],
    originZero: 0.009,
    originBalance: { mu: 13.835, sigma: 2.542 },
    originWhole: 0.215,
    originCentDrift: 0.2025,
    dest: { bothZero: 0.051, oldZeroOnly: 0.014, newZeroOnly: 0.152, reconciles: 0.181, balance: { mu: 12.961, sigma: 1.923 } },
  },
};

/** Spread of a recipient's other activity within the hour: new = old ± amount × factor, ln(factor) ~ N(0, sigma). */
export const DEST_NOISE_SIGMA = 1.2;

/**
 * Fraud in the sample: 46 TRANSFERs (1.19% of transfers), each followed by a CASH_OUT of the same
 * amount (48 CASH_OUTs, 0.46%): the fraudster empties the account (amount = old balance, new 0.0)
 * into a fresh account and cashes it out. The generator emits such pairs.
 */
export const FRAUD_TRANSFER_SHARE = 0.0119;
export const FRAUD_AMOUNT: LogNormal = { mu: 10.724, sigma: 2.36 };

/**
 * Customers and merchants are "C"/"M" + a random int below 2^31, as in PaySim: 53% have 10 digits,
 * 42% 9 digits. Origins are nearly always new; C recipients recur (22,372 rows, 5,109 distinct):
 * a recipient is new with this probability, otherwise one seen before.
 */
export const NEW_RECIPIENT_SHARE = 0.228;
export const RECIPIENT_POOL_SIZE = 50_000;

/**
 * Rows per step (hour) in the sample, steps 1-8 (step 9 is cut off). The generator repeats a
 * 24-hour day: hours 1-8 at these levels; hours 9-24 are not in the sample and are held at hour 8's
 * level (an assumption). `scale` multiplies them: the default 0.25 turns 10,000 rows into steps
 * 1-9 with step 9 cut off partway, like the sample.
 */
export const SAMPLE_ROWS_PER_HOUR = [2708, 1014, 552, 565, 665, 1660, 6837, 21097] as const;
export const DEFAULT_VOLUME_SCALE = 0.25;

export function rowsInStep(step: number, scale: number): number {
  const hour = (step - 1) % 24;
  const level = SAMPLE_ROWS_PER_HOUR[Math.min(hour, SAMPLE_ROWS_PER_HOUR.length - 1)] ?? 0;
  return Math.max(1, Math.round(level * scale));
}
