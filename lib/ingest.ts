import { v7 as uuidv7 } from "uuid";
import { z } from "zod";
import { config } from "./config.js";
import { InvalidInputError, issuesFromZod, MAX_REPORTED_ISSUES } from "./http/errors.js";
import { produce } from "./kafka/client.js";
import { logger } from "./logger.js";
import { type Transaction, TransactionInput, type TransactionMessage } from "./transaction.js";

const log = logger.child({ component: "ingest" });

/** What the API tells the client about an accepted transaction. */
export interface Accepted {
  id: string;
  receivedAt: string;
}

/** A Kafka message as the producer takes it: JSON value, keyed by nameOrig so one account's transactions stay in order. */
export interface OutgoingMessage {
  key: string;
  value: string;
}

function invalidBody(error: z.ZodError): InvalidInputError {
  const issues = issuesFromZod(error);
  const shown = issues.slice(0, MAX_REPORTED_ISSUES);
  const more = issues.length - shown.length;
  return new InvalidInputError(
    "body",
    shown,
    more > 0 ? `the request body is invalid (${issues.length} issues, first ${shown.length} listed)` : undefined,
  );
}

export function parseTransaction(body: unknown): Transaction {
  const parsed = TransactionInput.safeParse(body, { reportInput: true });
  if (!parsed.success) throw invalidBody(parsed.error);
  return parsed.data;
}

/** A JSON array of 1..maxItems transactions; every item is checked, and issues name their index ("[3].amount"). */
export function parseTransactions(body: unknown, maxItems = config.MAX_BULK_TRANSACTIONS): Transaction[] {
  if (!Array.isArray(body))
    throw new InvalidInputError("body", [{ field: "$", reason: "expected a JSON array of transactions" }]);
  if (body.length === 0) throw new InvalidInputError("body", [{ field: "$", reason: "expected at least 1 transaction" }]);
  if (body.length > maxItems) {
    throw new InvalidInputError("body", [
      { field: "$", reason: `at most ${maxItems} transactions per request (got ${body.length})` },
    ]);
  }
  const parsed = z.array(TransactionInput).safeParse(body, { reportInput: true });
  if (!parsed.success) throw invalidBody(parsed.error);
  return parsed.data;
}

/** Assigns the time-ordered id (UUIDv7) and the receive time, and builds the Kafka message. Pure apart from the clock. */
export function toMessage(
  transaction: Transaction,
  receivedAt: Date = new Date(),
): { accepted: Accepted; message: OutgoingMessage } {
  // uuid's v7 keeps a per-process sequence, so ids of one bulk request are unique and ascend in request order.
  const value: TransactionMessage = { id: uuidv7(), receivedAt: receivedAt.toISOString(), transaction };
  return {
    accepted: { id: value.id, receivedAt: value.receivedAt },
    message: { key: transaction.nameOrig, value: JSON.stringify(value) },
  };
}

/**
 * Validates one transaction and resolves once Kafka acknowledged it (acks=all). Throws
 * InvalidInputError (nothing produced) or BrokerUnavailableError (not accepted; the client retries).
 */
export async function acceptTransaction(body: unknown, topic = config.TRANSACTIONS_TOPIC): Promise<Accepted> {
  const { accepted, message } = toMessage(parseTransaction(body));
  await produce(topic, [message]);
  log.debug({ id: accepted.id, topic }, "transaction accepted");
  return accepted;
}

/**
 * All or nothing: every item is validated before anything is produced, and the batch goes out in
 * one produce call. Ids come back in the order of the request.
 */
export async function acceptTransactions(body: unknown, topic = config.TRANSACTIONS_TOPIC): Promise<Accepted[]> {
  const receivedAt = new Date();
  const built = parseTransactions(body).map((transaction) => toMessage(transaction, receivedAt));
  await produce(
    topic,
    built.map(({ message }) => message),
  );
  log.debug({ count: built.length, topic }, "transactions accepted");
  return built.map(({ accepted }) => accepted);
}
