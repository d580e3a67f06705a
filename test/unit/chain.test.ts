import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CHAIN_VERSION,
  type ChainContent,
  canonicalContent,
  chainHash,
  chainScopeOf,
  GENESIS_HASH,
  HISTORICAL_SCOPE,
  money2,
} from "../../lib/db/chain.js";
import { toPlainDecimal } from "../../lib/money.js";

const row: ChainContent = {
  id: "0197A5C2-6F3E-7B21-9C4D-5E8F1A2B3C4D",
  step: 1,
  type: "PAYMENT",
  amount: "9839.64",
  nameOrig: "C1231006815",
  oldbalanceOrg: "170136",
  newbalanceOrig: "160296.36",
  nameDest: "M1979787155",
  oldbalanceDest: "0",
  newbalanceDest: "0.5",
  isFraud: false,
  isFlaggedFraud: false,
  status: "Completed",
  receivedAt: new Date("2025-06-18T09:30:12.345Z"),
  persistedAt: new Date("2025-06-18T09:30:12.912Z"),
  kafkaTopic: "transactions",
  kafkaPartition: 2,
  kafkaOffset: 1841,
  idempotencyFingerprint: null,
};

describe("the canonical content", () => {
  it("is the documented array: version, place, then the row's columns with money to 2 decimals and ISO instants", () => {
    expect(JSON.parse(canonicalContent("transactions-2", 7, row))).toEqual([
      CHAIN_VERSION,
      "transactions-2",
      7,
      "0197a5c2-6f3e-7b21-9c4d-5e8f1a2b3c4d",
      1,
      "PAYMENT",
      "9839.64",
      "C1231006815",
      "170136.00",
      "160296.36",
      "M1979787155",
      "0.00",
      "0.50",
      false,
      false,
      "Completed",
      "2025-06-18T09:30:12.345Z",
      "2025-06-18T09:30:12.912Z",
      "transactions",
      2,
      1841,
      null,
    ]);
  });

  it("is the same for the values the consumer inserts and the ones PostgreSQL prints back", () => {
    // Any NUMERIC(18, 2): the message carries it as a plain decimal ("181", "0.5"), the database as "181.00".
    const cents = fc.bigInt({ min: 0n, max: 10n ** 18n - 1n });
    fc.assert(
      fc.property(cents, (value) => {
        const digits = value.toString().padStart(3, "0");
        const stored = `${digits.slice(0, -2)}.${digits.slice(-2)}`;
        expect(money2(toPlainDecimal(stored))).toBe(stored);
        expect(money2(stored)).toBe(stored);
      }),
    );
  });

  it("is exactly JSON.stringify of that array, for any names, topics and numbers", () => {
    const name = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
    fc.assert(
      fc.property(
        name,
        name,
        fc.option(fc.string(), { nil: null }),
        fc.option(fc.nat(), { nil: null }),
        fc.nat({ max: 2 ** 31 }),
        fc.string(),
        (nameOrig, nameDest, kafkaTopic, kafkaOffset, seq, scope) => {
          const content = { ...row, nameOrig, nameDest, kafkaTopic, kafkaOffset, idempotencyFingerprint: kafkaTopic };
          expect(canonicalContent(scope, seq, content)).toBe(
            JSON.stringify([
              CHAIN_VERSION,
              scope,
              seq,
              content.id.toLowerCase(),
              content.step,
              content.type,
              money2(content.amount),
              nameOrig,
              money2(content.oldbalanceOrg),
              money2(content.newbalanceOrig),
              nameDest,
              money2(content.oldbalanceDest),
              money2(content.newbalanceDest),
              content.isFraud,
              content.isFlaggedFraud,
              content.status,
              content.receivedAt.toISOString(),
              content.persistedAt.toISOString(),
              kafkaTopic,
              content.kafkaPartition,
              kafkaOffset,
              kafkaTopic,
            ]),
          );
        },
      ),
    );
  });

  it("changes with any column, the scope or the place", () => {
    const base = canonicalContent("transactions-2", 7, row);
    expect(canonicalContent("transactions-3", 7, row)).not.toBe(base);
    expect(canonicalContent("transactions-2", 8, row)).not.toBe(base);
    for (const [key, value] of Object.entries({
      amount: "9839.65",
      isFraud: true,
      persistedAt: new Date(0),
      kafkaOffset: 1842,
    })) {
      expect(canonicalContent("transactions-2", 7, { ...row, [key]: value })).not.toBe(base);
    }
  });
});

describe("chainHash", () => {
  it("is sha256 of the previous hash, a newline and the content, in hex", () => {
    const content = canonicalContent("historical", 1, row);
    expect(chainHash(GENESIS_HASH, content)).toBe(createHash("sha256").update(`${GENESIS_HASH}\n${content}`).digest("hex"));
    expect(GENESIS_HASH).toBe("0".repeat(64));
  });
});

describe("chainScopeOf", () => {
  it("is the topic-partition for a consumed row and one scope for the rest", () => {
    expect(chainScopeOf({ kafkaTopic: "transactions", kafkaPartition: 0 })).toBe("transactions-0");
    expect(chainScopeOf({ kafkaTopic: null, kafkaPartition: null })).toBe(HISTORICAL_SCOPE);
    expect(chainScopeOf({})).toBe(HISTORICAL_SCOPE);
  });
});
