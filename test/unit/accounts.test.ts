import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { balanceMismatches, parseAccountRequest } from "../../lib/accounts/view.js";
import type { TransactionRow } from "../../lib/db/schema.js";
import { InvalidInputError } from "../../lib/errors.js";
import { TRANSACTION_TYPES } from "../../lib/transaction.js";

const row = (overrides: Partial<TransactionRow>): TransactionRow => ({
  id: "0197a5c2-6f3e-7b21-9c4d-5e8f1a2b3c4d",
  step: 1,
  type: "PAYMENT",
  amount: "9839.64",
  nameOrig: "C1",
  oldbalanceOrg: "170136.00",
  newbalanceOrig: "160296.36",
  nameDest: "C2",
  oldbalanceDest: "0.00",
  newbalanceDest: "9839.64",
  isFraud: false,
  isFlaggedFraud: false,
  status: "Historical",
  receivedAt: new Date(0),
  persistedAt: new Date(0),
  kafkaTopic: null,
  kafkaPartition: null,
  kafkaOffset: null,
  idempotencyFingerprint: null,
  chainScope: null,
  chainSeq: null,
  chainHash: null,
  ...overrides,
});

const money = (cents: bigint) => {
  const digits = cents.toString().padStart(3, "0");
  return `${digits.slice(0, -2)}.${digits.slice(-2)}`;
};

describe("balanceMismatches", () => {
  it("flags an origin whose old - amount is not its new balance, with the exact expected value", () => {
    expect(balanceMismatches(row({}), "C1")).toEqual([]);
    expect(balanceMismatches(row({ amount: "181.00", oldbalanceOrg: "0.00", newbalanceOrig: "0.00" }), "C1")).toEqual([
      { side: "origin", oldBalance: "0.00", newBalance: "0.00", expectedNewBalance: "-181.00" },
    ]);
  });

  it("reads CASH_IN the other way round, and never checks a merchant destination", () => {
    const cashIn = row({
      type: "CASH_IN",
      amount: "0.10",
      oldbalanceOrg: "0.20",
      newbalanceOrig: "0.30",
      oldbalanceDest: "1.00",
    });
    expect(balanceMismatches({ ...cashIn, newbalanceDest: "0.90" }, "C2")).toEqual([]);
    expect(balanceMismatches(cashIn, "C1")).toEqual([]);
    expect(balanceMismatches(row({ nameDest: "M1", newbalanceDest: "0.00" }), "M1")).toEqual([]);
  });

  it("agrees with exact cents arithmetic for any amounts", () => {
    const cents = fc.bigInt({ min: 0n, max: 10n ** 17n });
    fc.assert(
      fc.property(fc.constantFrom(...TRANSACTION_TYPES), cents, cents, cents, (type, amount, old, actual) => {
        const sign = type === "CASH_IN" ? 1n : -1n;
        const found = balanceMismatches(
          row({ type, amount: money(amount), oldbalanceOrg: money(old), newbalanceOrig: money(actual) }),
          "C1",
        );
        const expected = old + sign * amount;
        expect(found.length).toBe(expected === actual ? 0 : 1);
        if (found[0]) expect(BigInt(found[0].expectedNewBalance.replace(".", ""))).toBe(expected);
      }),
    );
  });
});

describe("parseAccountRequest", () => {
  it("takes a name and the page parameters, and rejects anything else with the parameter named", () => {
    expect(parseAccountRequest("C1231006815", { limit: "5" })).toEqual({ name: "C1231006815", query: { limit: 5 } });
    expect(() => parseAccountRequest("C 1", {})).toThrow(InvalidInputError);
    expect(() => parseAccountRequest("C1", { nameOrig: "C1" })).toThrow(InvalidInputError);
  });
});
