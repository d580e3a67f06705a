import { describe, expect, it } from "vitest";
import type { TransactionRow } from "../../lib/db/schema.js";
import { InvalidInputError, TransactionLogUnavailableError } from "../../lib/errors.js";
import { Problem, problemOf, problemResponse } from "../../lib/http/problem.js";
import { toView } from "../../lib/reports/list.js";
import { StoredTransaction } from "../../lib/reports/schemas.js";

/**
 * The handlers build their answers typed by these zod schemas (one declaration, `z.infer`), so
 * `npm run typecheck` keeps them equal; here the schemas parse what the handlers' own functions build.
 */
describe("the response schemas of the OpenAPI document", () => {
  it("accept a stored row as the reports show it", () => {
    const row: TransactionRow = {
      id: "0197a5c2-6f3e-7b21-9c4d-5e8f1a2b3c4d",
      step: 1,
      type: "TRANSFER",
      amount: "379856.23",
      nameOrig: "C1449772539",
      oldbalanceOrg: "0.00",
      newbalanceOrig: "0.00",
      nameDest: "C1590550415",
      oldbalanceDest: "900180.00",
      newbalanceDest: "19169204.93",
      isFraud: false,
      isFlaggedFraud: false,
      status: "Completed",
      receivedAt: new Date("2025-06-18T09:30:12.345Z"),
      persistedAt: new Date("2025-06-18T09:30:12.912Z"),
      kafkaTopic: "transactions",
      kafkaPartition: 0,
      kafkaOffset: 17,
      idempotencyFingerprint: null,
      chainScope: null,
      chainSeq: null,
      chainHash: null,
    };
    expect(StoredTransaction.parse(toView(row))).toEqual(toView(row));
    const seeded = { ...row, status: "Historical" as const, kafkaTopic: null, kafkaPartition: null, kafkaOffset: null };
    expect(StoredTransaction.parse(toView(seeded)).kafka).toBeNull();
  });

  it("accept the problem responses the error middleware builds", () => {
    for (const error of [
      new InvalidInputError("body", [{ field: "amount", reason: "must not be negative" }]),
      new TransactionLogUnavailableError("connect ECONNREFUSED"),
      new Error("secret internals"),
    ]) {
      const body = JSON.parse(problemResponse(problemOf(error)).body);
      expect(Problem.safeParse(body).error?.issues ?? []).toEqual([]);
    }
  });
});
