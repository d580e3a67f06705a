import type { RouteConfig } from "@asteasolutions/zod-to-openapi";
import { z } from "zod";
import { config } from "../../config.js";
import { TransactionIdParams } from "../../reports/list.js";
import { storedPaymentExample } from "../../reports/schemas.js";
import { paysimExamples } from "../../transaction.js";
import {
  AcceptedRef,
  BulkAcceptedRef,
  bodyErrors,
  brokerUnavailable,
  databaseUnavailable,
  idempotencyKeyHeaders,
  idempotencyResponses,
  json,
  missingApiKey,
  problem,
  StoredTransactionRef,
  TransactionInputRef,
} from "./components.js";

const { id } = storedPaymentExample;

/** POST /transaction, POST /transactions, GET /transactions/{id}. */
export const transactionRoutes: RouteConfig[] = [
  {
    method: "post",
    path: "/transaction",
    operationId: "submitTransaction",
    tags: ["transactions"],
    summary: "Submit one transaction",
    description:
      "Validates the transaction, assigns a time-ordered id and answers 202 only after Kafka acknowledged it (acks=all). " +
      "The consumer stores it within seconds; poll the Location.",
    request: {
      headers: idempotencyKeyHeaders,
      body: { required: true, ...json(TransactionInputRef, paysimExamples.payment) },
    },
    responses: {
      202: {
        ...json(AcceptedRef, { id, status: "Accepted" }),
        description: "Accepted: durably in Kafka, not yet stored.",
        headers: z.object({ Location: z.string().meta({ example: `/transactions/${id}` }) }),
      },
      ...bodyErrors,
      403: missingApiKey,
      ...idempotencyResponses,
      422: problem(
        "The JSON is a valid document but not a valid transaction (`issues` names each bad field and why), or the Idempotency-Key was already used with a different body.",
        {
          status: 422,
          error: "Unprocessable Content",
          message: "the request body is invalid",
          issues: [
            { field: "amount", reason: "must not be negative" },
            { field: "type", reason: 'Invalid option: expected one of "CASH_IN"|"CASH_OUT"|"DEBIT"|"PAYMENT"|"TRANSFER"' },
          ],
        },
      ),
      503: brokerUnavailable,
    },
  },
  {
    method: "post",
    path: "/transactions",
    operationId: "submitTransactions",
    tags: ["transactions"],
    summary: "Submit a batch of transactions",
    description: `All or nothing: every item is validated before any is produced. At most ${config.MAX_BULK_TRANSACTIONS} items.`,
    request: {
      headers: idempotencyKeyHeaders,
      body: {
        required: true,
        ...json(z.array(TransactionInputRef).min(1).max(config.MAX_BULK_TRANSACTIONS), [
          paysimExamples.payment,
          paysimExamples.fraudTransfer,
          paysimExamples.transferENotation,
        ]),
      },
    },
    responses: {
      202: {
        description: "All accepted: durably in Kafka, ids in the order of the request.",
        ...json(BulkAcceptedRef, {
          status: "Accepted",
          count: 3,
          ids: [
            "0197a5c2-6f3e-7b21-9c4d-5e8f1a2b3c4d",
            "0197a5c2-6f3e-7b21-9c4d-5e8f1a2b3c4e",
            "0197a5c2-6f3e-7b21-9c4d-5e8f1a2b3c4f",
          ],
        }),
      },
      ...bodyErrors,
      403: missingApiKey,
      ...idempotencyResponses,
      422: problem(
        "An item is invalid (fields are prefixed with the item's index), or the Idempotency-Key was already used with a different body; nothing was accepted.",
        {
          status: 422,
          error: "Unprocessable Content",
          message: "the request body is invalid",
          issues: [{ field: "[1].nameDest", reason: "required" }],
        },
      ),
      503: brokerUnavailable,
    },
  },
  {
    method: "get",
    path: "/transactions/{id}",
    operationId: "getTransaction",
    tags: ["transactions"],
    summary: "One stored transaction",
    request: { params: TransactionIdParams },
    responses: {
      200: { description: "The stored row.", ...json(StoredTransactionRef, storedPaymentExample) },
      400: problem("The id is not a UUID.", {
        status: 400,
        error: "Bad Request",
        message: "invalid path parameters",
        issues: [{ field: "id", reason: "expected a UUID" }],
      }),
      403: missingApiKey,
      404: problem("Not stored (yet): accepted transactions appear within seconds.", {
        status: 404,
        error: "Not Found",
        message: `no transaction ${id} is stored (yet); accepted transactions appear within seconds`,
      }),
      410: problem(
        "Accepted, but its record was dead-lettered (invalid, refused by the database, or conflicting with a stored id): it will not appear unless the dead letter is redriven.",
        {
          status: 410,
          error: "Gone",
          message: `transaction ${id} was not stored: its record was dead-lettered at 2025-06-18T09:12:40.511Z (rejected: the database refused it: SQLSTATE 23514 (transactions.amount_limit))`,
          issues: [{ field: "id", reason: "dead-lettered: rejected" }],
        },
      ),
      503: databaseUnavailable,
    },
  },
];
