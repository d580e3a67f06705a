import type { TransactionType } from "../../lib/transaction.js";
import { formatJavaDouble } from "./java-double.js";
import {
  AMOUNT_QUANTILE_PROBABILITIES,
  DEFAULT_VOLUME_SCALE,
  DEST_NOISE_SIGMA,
  FRAUD_AMOUNT,
  FRAUD_TRANSFER_SHARE,
  type LogNormal,
  MAX_AMOUNT_CENTS,
  MAX_BALANCE_CENTS,
  NEW_RECIPIENT_SHARE,
  RECIPIENT_POOL_SIZE,
  rowsInStep,
  TYPE_MODELS,
  TYPE_SHARES,
  type TypeModel,
} from "./model.js";
import { SeededRandom } from "./random.js";

export const PAYSIM_COLUMNS = [
  "step",
  "type",
  "amount",
  "nameOrig",
  "oldbalanceOrg",
  "newbalanceOrig",
  "nameDest",
  "oldbalanceDest",
  "newbalanceDest",
  "isFraud",
  "isFlaggedFraud",
] as const;

export const PAYSIM_HEADER = PAYSIM_COLUMNS.join(",");

/** One generated row; money in integer cents (exact, and far below 2^53). */
export interface GeneratedRow {
  step: number;
  type: TransactionType;
  amount: number;
  nameOrig: string;
  oldbalanceOrg: number;
  newbalanceOrig: number;
  nameDest: string;
  oldbalanceDest: number;
  newbalanceDest: number;
  isFraud: boolean;
  isFlaggedFraud: boolean;
}

export interface GenerateOptions {
  rows: number;
  seed: number;
  /** Multiplies the sample's rows per hour (model.ts); 0.25 by default. */
  volumeScale?: number;
}

/** The value at probability u of a distribution given by its quantiles, interpolated in log space. */
export function inverseCdf(quantiles: readonly number[], u: number): number {
  const probabilities = AMOUNT_QUANTILE_PROBABILITIES;
  let index = 1;
  while (index < probabilities.length - 1 && (probabilities[index] as number) < u) index++;
  const p0 = probabilities[index - 1] as number;
  const p1 = probabilities[index] as number;
  const low = Math.log(quantiles[index - 1] as number);
  const high = Math.log(quantiles[index] as number);
  return Math.exp(low + ((high - low) * (u - p0)) / (p1 - p0));
}

/** Cents as a plain decimal string: 1916920493 -> "19169204.93". */
export function centsToDecimal(cents: number): string {
  const whole = Math.floor(cents / 100);
  const rest = cents % 100;
  return `${whole}.${rest < 10 ? "0" : ""}${rest}`;
}

/** A CSV line as PaySim writes it (no line break). */
export function toCsvLine(row: GeneratedRow): string {
  const money = (cents: number) => formatJavaDouble(centsToDecimal(cents));
  return [
    row.step,
    row.type,
    money(row.amount),
    row.nameOrig,
    money(row.oldbalanceOrg),
    money(row.newbalanceOrig),
    row.nameDest,
    money(row.oldbalanceDest),
    money(row.newbalanceDest),
    row.isFraud ? 1 : 0,
    row.isFlaggedFraud ? 1 : 0,
  ].join(",");
}

/**
 * Yields `rows` PaySim-like transactions, the same ones for the same seed and options. Streaming:
 * memory stays bounded (a capped pool of recurring recipients) however many rows are asked for.
 */
export function* generatePaysimRows(options: GenerateOptions): Generator<GeneratedRow> {
  const random = new SeededRandom(options.seed);
  const scale = options.volumeScale ?? DEFAULT_VOLUME_SCALE;
  const recipients: string[] = [];

  const accountId = (prefix: "C" | "M") => `${prefix}${random.int(1, 2 ** 31 - 1)}`;
  const recipient = (): string => {
    if (recipients.length > 0 && !random.chance(NEW_RECIPIENT_SHARE)) {
      return recipients[random.int(0, recipients.length - 1)] as string;
    }
    const id = accountId("C");
    if (recipients.length < RECIPIENT_POOL_SIZE) recipients.push(id);
    else recipients[random.int(0, RECIPIENT_POOL_SIZE - 1)] = id;
    return id;
  };
  const cents = (distribution: LogNormal, max: number): number => {
    // Truncated log-normal: redraw the rare tail beyond the cap, except amounts, which PaySim caps.
    for (let attempt = 0; attempt < 10; attempt++) {
      const value = Math.round(random.logNormal(distribution.mu, distribution.sigma) * 100);
      if (value <= max) return Math.max(1, value);
    }
    return max;
  };
  const amountCents = (distribution: LogNormal) =>
    Math.max(1, Math.min(MAX_AMOUNT_CENTS, Math.round(random.logNormal(distribution.mu, distribution.sigma) * 100)));
  const quantileAmountCents = (quantiles: readonly number[]) =>
    Math.max(1, Math.min(MAX_AMOUNT_CENTS, Math.round(inverseCdf(quantiles, random.next()) * 100)));
  const originBalance = (model: TypeModel): number => {
    const balance = cents(model.originBalance, MAX_BALANCE_CENTS);
    return random.chance(model.originWhole) ? Math.max(100, Math.round(balance / 100) * 100) : balance;
  };
  const centDrift = (model: TypeModel, balance: number): number =>
    balance > 1 && random.chance(model.originCentDrift) ? balance + (random.chance(0.5) ? 1 : -1) : balance;

  const destBalances = (type: TransactionType, amount: number): [number, number] => {
    const dest = TYPE_MODELS[type].dest;
    if (!dest) return [0, 0]; // merchants: PaySim keeps no balance
    const direction = type === "CASH_IN" ? -1 : 1;
    const point = random.next();
    let threshold = dest.bothZero;
    if (point < threshold) return [0, 0];
    threshold += dest.oldZeroOnly;
    if (point < threshold) return [0, Math.max(1, Math.round(amount * random.logNormal(0, DEST_NOISE_SIGMA)))];
    const old = cents(dest.balance, MAX_BALANCE_CENTS);
    threshold += dest.newZeroOnly;
    if (point < threshold) return [old, 0];
    threshold += dest.reconciles;
    if (point < threshold) {
      // A CASH_IN's recipient pays the cash out of its balance: it must hold at least the amount.
      const start = direction < 0 ? old + amount : old;
      return [start, start + direction * amount];
    }
    let moved = Math.round(amount * random.logNormal(0, DEST_NOISE_SIGMA));
    if (moved === amount) moved += 1;
    return [old, Math.max(0, old + direction * moved)];
  };

  const regular = (step: number, type: TransactionType): GeneratedRow => {
    const model = TYPE_MODELS[type];
    const amount = quantileAmountCents(model.amount);
    let oldOrig = 0;
    let newOrig = 0;
    if (type === "CASH_IN") {
      oldOrig = random.chance(model.originZero) ? 0 : originBalance(model);
      newOrig = centDrift(model, oldOrig + amount);
    } else if (!random.chance(model.originZero)) {
      oldOrig = originBalance(model);
      newOrig = centDrift(model, Math.max(0, oldOrig - amount));
    }
    const [oldDest, newDest] = destBalances(type, amount);
    return {
      step,
      type,
      amount,
      nameOrig: accountId("C"),
      oldbalanceOrg: oldOrig,
      newbalanceOrig: newOrig,
      nameDest: type === "PAYMENT" ? accountId("M") : recipient(),
      oldbalanceDest: oldDest,
      newbalanceDest: newDest,
      isFraud: false,
      isFlaggedFraud: false,
    };
  };

  /** PaySim's fraud: empty an account into a fresh one (TRANSFER), then cash it out (CASH_OUT). */
  const fraudPair = (step: number): [GeneratedRow, GeneratedRow] => {
    const amount = amountCents(FRAUD_AMOUNT);
    const [oldDest, newDest] = destBalances("CASH_OUT", amount);
    const common = { step, amount, oldbalanceOrg: amount, newbalanceOrig: 0, isFraud: true, isFlaggedFraud: false };
    return [
      { ...common, type: "TRANSFER", nameOrig: accountId("C"), nameDest: accountId("C"), oldbalanceDest: 0, newbalanceDest: 0 },
      {
        ...common,
        type: "CASH_OUT",
        nameOrig: accountId("C"),
        nameDest: recipient(),
        oldbalanceDest: oldDest,
        newbalanceDest: newDest,
      },
    ];
  };

  let emitted = 0;
  for (let step = 1; emitted < options.rows; step++) {
    const inStep = rowsInStep(step, scale);
    for (let index = 0; index < inStep && emitted < options.rows; index++) {
      const type = random.weighted(TYPE_SHARES);
      if (type === "TRANSFER" && random.chance(FRAUD_TRANSFER_SHARE)) {
        for (const row of fraudPair(step)) {
          if (emitted >= options.rows) break;
          emitted++;
          yield row;
        }
        index++;
        continue;
      }
      emitted++;
      yield regular(step, type);
    }
  }
}
