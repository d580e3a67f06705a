import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../lib/errors.js";
import { problemOf } from "../../lib/http/problem.js";
import { parseTransaction, parseTransactions, toMessage } from "../../lib/ingest.js";
import { TransactionMessage } from "../../lib/transaction.js";

/** A real PaySim row (E-notation as the CSV writes it), as a JSON client might send it. */
const row = {
  step: 1,
  type: "TRANSFER",
  amount: "1.916920493E7",
  nameOrig: "C1305486145",
  oldbalanceOrg: 181.0,
  newbalanceOrig: "0.0",
  nameDest: "C553264065",
  oldbalanceDest: 0,
  newbalanceDest: 1.0e7,
  isFraud: 1,
  isFlaggedFraud: 0,
};

function issuesOf(run: () => unknown) {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidInputError);
    return { status: problemOf(error).status, issues: (error as InvalidInputError).issues };
  }
  throw new Error("expected InvalidInputError");
}

describe("parseTransaction", () => {
  it("turns numbers and E-notation strings into exact decimal strings", () => {
    expect(parseTransaction(row)).toMatchObject({
      amount: "19169204.93",
      oldbalanceOrg: "181",
      newbalanceOrig: "0",
      newbalanceDest: "10000000",
      isFraud: true,
      isFlaggedFraud: false,
    });
  });

  it("lists every bad field with 422", () => {
    const { status, issues } = issuesOf(() =>
      parseTransaction({ ...row, amount: "1e-3", type: "X", nameDest: undefined, extra: 0 }),
    );
    expect(status).toBe(422);
    expect(issues?.map((issue) => issue.field).sort()).toEqual(["amount", "extra", "nameDest", "type"]);
  });
});

describe("parseTransactions", () => {
  it("prefixes each issue with its item's index", () => {
    const { issues } = issuesOf(() => parseTransactions([row, row, { ...row, amount: -5 }], 10));
    expect(issues).toEqual([{ field: "[2].amount", reason: "must not be negative" }]);
  });

  it("rejects a non-array, an empty array and more items than allowed", () => {
    expect(issuesOf(() => parseTransactions(row, 10)).issues).toEqual([
      { field: "$", reason: "expected a JSON array of transactions" },
    ]);
    expect(issuesOf(() => parseTransactions([], 10)).issues).toEqual([{ field: "$", reason: "expected at least 1 transaction" }]);
    expect(issuesOf(() => parseTransactions([row, row, row], 2)).issues).toEqual([
      { field: "$", reason: "at most 2 transactions per request (got 3)" },
    ]);
  });

  it("lists at most 100 issues for a body full of bad items, and says how many there were", () => {
    const bad = Array.from({ length: 60 }, () => ({ ...row, amount: "x", type: "X" }));
    try {
      parseTransactions(bad, 1_000);
      throw new Error("expected InvalidInputError");
    } catch (error) {
      expect((error as InvalidInputError).issues).toHaveLength(100);
      expect((error as InvalidInputError).message).toMatch(/120 issues/);
    }
  });
});

describe("toMessage", () => {
  it("keys by nameOrig and carries {id, receivedAt, transaction} that the consumer's schema accepts", () => {
    const receivedAt = new Date("2026-01-02T03:04:05.678Z");
    const { accepted, message } = toMessage(parseTransaction(row), receivedAt);
    expect(message.key).toBe("C1305486145");
    const value = JSON.parse(message.value);
    expect(value).toEqual({ id: accepted.id, receivedAt: "2026-01-02T03:04:05.678Z", transaction: parseTransaction(row) });
    expect(TransactionMessage.parse(value).transaction.amount).toBe("19169204.93");
  });

  it("gives time-ordered (v7) ids that ascend within one batch", () => {
    const transaction = parseTransaction(row);
    const ids = Array.from({ length: 1_000 }, () => toMessage(transaction).accepted.id);
    expect(ids.every((id) => /^[0-9a-f]{8}-[0-9a-f]{4}-7/.test(id))).toBe(true);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
