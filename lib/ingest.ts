import { z } from "zod";
import { config } from "./config.js";
import { InvalidInputError } from "./errors.js";
import { apiKeyScope, claimIdempotencyKey, type IdempotentRoute, parseIdempotencyKey } from "./idempotency.js";
import { transactionId } from "./ids.js";
import { produce } from "./kafka/producer.js";
import { logger } from "./logger.js";
import { type Transaction, TransactionInput, type TransactionMessage } from "./transaction.js";
import { invalidInput } from "./validation.js";

const log = logger.child({ component: "ingest" });

/** What the API tells the client about an accepted transaction. */
export interface Accepted {
  id: string;
  receivedAt: string;
}

/** 202 of POST /transaction. */
export const AcceptedResponse = z.strictObject({
  id: z.uuid().meta({ description: "Time-ordered (UUIDv7); GET /transactions/{id} shows the row once stored." }),
  status: z.literal("Accepted"),
});
export type AcceptedResponse = z.infer<typeof AcceptedResponse>;

/** 202 of POST /transactions. */
export const BulkAcceptedResponse = z.strictObject({
  status: z.literal("Accepted"),
  count: z.int().min(1),
  ids: z.array(z.uuid()).meta({ description: "In the order of the request." }),
});
export type BulkAcceptedResponse = z.infer<typeof BulkAcceptedResponse>;

/** A Kafka message as the producer takes it: JSON value, keyed by nameOrig so one account's transactions stay in order. */
export interface OutgoingMessage {
  key: string;
  value: string;
}

export function parseTransaction(body: unknown): Transaction {
  const parsed = TransactionInput.safeParse(body, { reportInput: true });
  if (!parsed.success) throw invalidInput("body", parsed.error);
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
  if (!parsed.success) throw invalidInput("body", parsed.error);
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
  receivedAt: Date | string = new Date(),
  identity?: MessageIdentity,
): { accepted: Accepted; message: OutgoingMessage } {
  // One request's items share one instant: its text is made once (accept), not per item.
  const at = typeof receivedAt === "string" ? receivedAt : receivedAt.toISOString();
  // Ids of one process are unique and ascend, so a bulk request's ids ascend in request order.
  const value: TransactionMessage = identity
    ? { id: identity.id, receivedAt: at, transaction, idempotencyKey: identity.idempotencyKey, fingerprint: identity.fingerprint }
    : { id: transactionId(), receivedAt: at, transaction };
  return {
    accepted: { id: value.id, receivedAt: value.receivedAt },
    message: { key: transaction.nameOrig, value: JSON.stringify(value) },
  };
}

export interface AcceptOptions {
  topic?: string;
  /** The request's Idempotency-Key header values, as sent (lib/idempotency.ts parses them). */
  idempotencyKey?: readonly string[];
  /**
   * The API key the request came with (lib/http/api-key.ts): Idempotency-Keys are scoped to it. Only
   * its hash is used (apiKeyScope), never the key itself.
   */
  apiKey?: string;
}

/** What POST answers: the ids in request order; `replayed` when an earlier request with the same key and body was accepted. */
export interface AcceptedBatch {
  ids: string[];
  replayed: boolean;
}

async function produceAll(topic: string, messages: OutgoingMessage[]): Promise<void> {
  await produce(topic, messages);
  log.debug({ count: messages.length, topic }, "transactions accepted");
}

async function accept(route: IdempotentRoute, parse: () => Transaction[], options: AcceptOptions): Promise<AcceptedBatch> {
  // A malformed key is answered before the body is judged, so a client fixes the header first.
  const key = parseIdempotencyKey(options.idempotencyKey);
  const items = parse();
  const topic = options.topic ?? config.TRANSACTIONS_TOPIC;
  const receivedAt = new Date().toISOString();
  if (key === undefined) {
    const built = items.map((transaction) => toMessage(transaction, receivedAt));
    await produceAll(
      topic,
      built.map(({ message }) => message),
    );
    return { ids: built.map(({ accepted }) => accepted.id), replayed: false };
  }
  const claim = await claimIdempotencyKey({ route, key, scope: apiKeyScope(options.apiKey), items });
  if (claim.replayed) return { ids: claim.ids, replayed: true };
  const { ids, fingerprint } = claim;
  const messages = items.map(
    (transaction, index) =>
      toMessage(transaction, receivedAt, { id: ids[index] as string, idempotencyKey: key, fingerprint }).message,
  );
  try {
    await produceAll(topic, messages);
  } catch (error) {
    claim.abandoned();
    throw error;
  }
  claim.accepted();
  return { ids, replayed: false };
}

/**
 * Validates one transaction and resolves once Kafka acknowledged it (acks=all). Throws
 * InvalidInputError (nothing produced), TransactionLogUnavailableError (not accepted; the client
 * retries), or, with an Idempotency-Key, IdempotencyConflictError / RequestInFlightError.
 */
export async function acceptTransaction(body: unknown, options: AcceptOptions = {}): Promise<AcceptedBatch> {
  return accept("transaction", () => [parseTransaction(body)], options);
}

/**
 * All or nothing: every item is validated before anything is produced, and the batch goes out in
 * one produce call. Ids come back in the order of the request.
 */
export async function acceptTransactions(body: unknown, options: AcceptOptions = {}): Promise<AcceptedBatch> {
  return accept("transactions", () => parseTransactions(body), options);
}
