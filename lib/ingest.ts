import { v7 as uuidv7 } from "uuid";
import { z } from "zod";
import { config } from "./config.js";
import { InvalidInputError, issuesFromZod, MAX_REPORTED_ISSUES } from "./http/errors.js";
import { acceptIdempotent, type IdempotentRoute } from "./idempotency.js";
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

/** Where an id comes from: a fresh UUIDv7, or one derived from the client's Idempotency-Key. */
export interface MessageIdentity {
  id: string;
  idempotencyKey: string;
  fingerprint: string;
}

/**
 * Builds the Kafka message: the time-ordered id (UUIDv7) unless `identity` gives one derived from an
 * Idempotency-Key, and the receive time. Pure apart from the clock.
 */
export function toMessage(
  transaction: Transaction,
  receivedAt: Date = new Date(),
  identity?: MessageIdentity,
): { accepted: Accepted; message: OutgoingMessage } {
  // uuid's v7 keeps a per-process sequence, so ids of one bulk request are unique and ascend in request order.
  const value: TransactionMessage = identity
    ? {
        id: identity.id,
        receivedAt: receivedAt.toISOString(),
        transaction,
        idempotencyKey: identity.idempotencyKey,
        fingerprint: identity.fingerprint,
      }
    : { id: uuidv7(), receivedAt: receivedAt.toISOString(), transaction };
  return {
    accepted: { id: value.id, receivedAt: value.receivedAt },
    message: { key: transaction.nameOrig, value: JSON.stringify(value) },
  };
}

export interface AcceptOptions {
  topic?: string;
  /** The request's Idempotency-Key (parsed: lib/idempotency.ts parseIdempotencyKey). */
  idempotencyKey?: string;
}

/** What POST answers: the ids in request order; `replayed` when an earlier request with the same key and body was accepted. */
export interface AcceptedBatch {
  ids: string[];
  replayed: boolean;
}

async function accept(route: IdempotentRoute, items: Transaction[], options: AcceptOptions): Promise<AcceptedBatch> {
  const topic = options.topic ?? config.TRANSACTIONS_TOPIC;
  const receivedAt = new Date();
  const { idempotencyKey } = options;
  if (idempotencyKey === undefined) {
    const built = items.map((transaction) => toMessage(transaction, receivedAt));
    await produce(
      topic,
      built.map(({ message }) => message),
    );
    log.debug({ count: built.length, topic }, "transactions accepted");
    return { ids: built.map(({ accepted }) => accepted.id), replayed: false };
  }
  const outcome = await acceptIdempotent({ route, key: idempotencyKey, items }, async (ids, fingerprint) => {
    const messages = items.map(
      (transaction, index) =>
        toMessage(transaction, receivedAt, { id: ids[index] as string, idempotencyKey, fingerprint }).message,
    );
    await produce(topic, messages);
  });
  log.debug({ count: items.length, topic, replayed: outcome.replayed }, "keyed transactions accepted");
  return { ids: outcome.ids, replayed: outcome.replayed };
}

/**
 * Validates one transaction and resolves once Kafka acknowledged it (acks=all). Throws
 * InvalidInputError (nothing produced), BrokerUnavailableError (not accepted; the client retries),
 * or, with an Idempotency-Key, the 422/409 of lib/idempotency.ts.
 */
export async function acceptTransaction(body: unknown, options: AcceptOptions = {}): Promise<AcceptedBatch> {
  return accept("transaction", [parseTransaction(body)], options);
}

/**
 * All or nothing: every item is validated before anything is produced, and the batch goes out in
 * one produce call. Ids come back in the order of the request.
 */
export async function acceptTransactions(body: unknown, options: AcceptOptions = {}): Promise<AcceptedBatch> {
  return accept("transactions", parseTransactions(body), options);
}
