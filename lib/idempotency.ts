import { createHash } from "node:crypto";
import { v5 as uuidv5 } from "uuid";
import { readStoredFingerprints } from "./db/transactions.js";
import { IdempotencyConflictError, InvalidInputError, RequestInFlightError } from "./errors.js";
import { logger } from "./logger.js";
import { withTimeout } from "./timeout.js";
import type { Transaction } from "./transaction.js";

/**
 * Idempotency-Key (IETF httpapi draft "The Idempotency-Key HTTP Header Field"; Stripe's behaviour).
 *
 * Keys are scoped per API key: the same Idempotency-Key sent with two API keys names two requests
 * (two clients cannot collide, or probe each other's keys). The scope is a hash of the API key, never
 * the key itself, and it only ever enters the derived ids.
 *
 * The API never writes the database, so nothing records "key K was used". Instead:
 * - each transaction's id is derived from the scope and the key (UUIDv5 of scope + item index + key), so
 *   every retry of a request produces the same ids and the consumer's ON CONFLICT (id) DO NOTHING stores each once;
 * - each message carries the request's fingerprint (sha256 of the canonical validated body), which
 *   the consumer stores in transactions.idempotency_fingerprint;
 * - before producing, the API reads the rows of the derived ids: one stored with another fingerprint
 *   -> conflict; all stored with this fingerprint -> replayed, nothing produced; otherwise produce (again).
 * - a per-process table of recent (scope, key) pairs answers while nothing is stored yet: the same key and body
 *   again -> replayed without producing; another body -> conflict; the first still being produced -> in flight.
 *
 * The window left open: a conflicting body sent to ANOTHER process (container) between the first
 * request's 202 and its row being stored (normally well under a second) is answered 202 and then
 * dropped by the consumer, because the first row wins the id. Keys do not expire: a key is bound to
 * its ids, and so to its body, for as long as the rows are stored.
 */

const log = logger.child({ component: "idempotency" });

export const IDEMPOTENCY_KEY_HEADER = "Idempotency-Key";
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
/** The UUIDv5 namespace of ids derived from idempotency keys (a fixed random UUID; never change it). */
export const IDEMPOTENCY_NAMESPACE = "3f0b6c1e-8d2a-4c57-9e41-6a7f2d9b0c83";
/** How long the API waits for the stored-rows lookup before deciding without it. */
export const LOOKUP_TIMEOUT_MS = 1_500;
/** Most keys the per-process table remembers (oldest forgotten first); a few MB at most. */
export const MAX_REMEMBERED_KEYS = 10_000;
/** Retry-After of an in-flight answer while the first request with the key is still being produced. */
export const IN_FLIGHT_RETRY_AFTER_SECONDS = 1;

export type IdempotentRoute = "transaction" | "transactions";

/** Visible ASCII and space: what an sf-string holds (RFC 8941), and all a sane key needs. */
const PRINTABLE = /^[\x20-\x7e]+$/;

function malformedKey(reason: string): InvalidInputError {
  return new InvalidInputError("header", [{ field: IDEMPOTENCY_KEY_HEADER, reason }], `invalid ${IDEMPOTENCY_KEY_HEADER} header`);
}

/**
 * The header's values as the key, or undefined when absent. The draft's form is a Structured Field
 * string (`Idempotency-Key: "8e03978e-40d5"`); the bare form most clients send (`Idempotency-Key:
 * 8e03978e-40d5`) is accepted too, and both name the same key. InvalidInputError for an empty, too
 * long, non-printable or repeated key.
 */
export function parseIdempotencyKey(values: readonly string[] | undefined): string | undefined {
  if (!values || values.length === 0) return undefined;
  if (values.length > 1) throw malformedKey("send the header once");
  const raw = (values[0] as string).trim();
  const key = raw.startsWith('"') ? unquote(raw) : raw;
  if (key.length === 0) throw malformedKey("must not be empty");
  if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH)
    throw malformedKey(`at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters (got ${key.length})`);
  if (!PRINTABLE.test(key)) throw malformedKey("only printable ASCII characters (0x20-0x7E)");
  return key;
}

/** An RFC 8941 sf-string: `\\` may escape only `"` and `\\`; the closing quote must end the value. */
function unquote(raw: string): string {
  let key = "";
  for (let index = 1; index < raw.length; index++) {
    const char = raw[index] as string;
    if (char === "\\") {
      const next = raw[index + 1];
      if (next !== '"' && next !== "\\") throw malformedKey('in a quoted key, "\\" may only escape \'"\' or "\\"');
      key += next;
      index++;
    } else if (char === '"') {
      if (index !== raw.length - 1) throw malformedKey("text after the closing quote");
      return key;
    } else key += char;
  }
  throw malformedKey("an unterminated quoted string");
}

/** The scope of requests that carry no API key (only possible outside API Gateway's private routes). */
const NO_API_KEY_SCOPE = "no-api-key";

/**
 * The scope an API key's Idempotency-Keys live in: sha256 of the key, in hex, so the key itself never
 * travels further than the handler (not into ids, messages or logs); "no-api-key" without one.
 */
export function apiKeyScope(apiKey: string | undefined): string {
  return apiKey === undefined ? NO_API_KEY_SCOPE : createHash("sha256").update(apiKey).digest("hex");
}

/**
 * The id of item `index` of a request with `key`, sent with the API key of `scope` (apiKeyScope): a
 * single transaction is item 0, so a key reused across the two routes meets the same row (and a
 * different fingerprint). "\0" never occurs in a scope or a key, so (scope, index, key) -> name is one-to-one.
 */
export function idForKey(key: string, index: number, scope: string): string {
  return uuidv5(`${scope}\u0000${index}\u0000${key}`, IDEMPOTENCY_NAMESPACE);
}

/**
 * sha256 of the route and the validated transactions as the schema outputs them (fixed field order,
 * amounts normalised, defaults applied), so 181, "181.0" and "1.81E2" are the same body.
 */
export function fingerprintOf(route: IdempotentRoute, items: readonly Transaction[]): string {
  return createHash("sha256")
    .update(`${route}\n${JSON.stringify(items)}`)
    .digest("hex");
}

interface RememberedKey {
  fingerprint: string;
  /** True once Kafka acknowledged the request's messages. */
  accepted: boolean;
}

/**
 * Recent keys of this process, by scope and key, oldest first (a Map keeps insertion order). Held on globalThis: each
 * function is bundled on its own, and serverless-offline runs several bundles in one process, where
 * POST /transaction and /transactions must see each other's keys (a key reused across them conflicts).
 */
const REMEMBERED = Symbol.for("txlog.idempotency.rememberedKeys");
const registry = globalThis as typeof globalThis & { [REMEMBERED]?: Map<string, RememberedKey> };
registry[REMEMBERED] ??= new Map<string, RememberedKey>();
const remembered: Map<string, RememberedKey> = registry[REMEMBERED];

function remember(key: string, entry: RememberedKey): void {
  remembered.delete(key);
  remembered.set(key, entry);
  while (remembered.size > MAX_REMEMBERED_KEYS) {
    const oldest = remembered.keys().next().value as string;
    remembered.delete(oldest);
  }
}

/** For tests: forget every key this process remembers. */
export function forgetRememberedKeys(): void {
  remembered.clear();
}

/** The stored fingerprint of each of `ids` that is stored (null: stored without one). */
export type StoredFingerprints = (ids: string[]) => Promise<Map<string, string | null>>;

export interface IdempotentRequest {
  route: IdempotentRoute;
  key: string;
  /** apiKeyScope() of the API key the request came with. */
  scope: string;
  items: readonly Transaction[];
}

/** What a keyed request should do: replay (nothing to produce), or produce with these ids and report how it went. */
export type IdempotencyClaim =
  | { replayed: true; ids: string[] }
  | {
      replayed: false;
      ids: string[];
      fingerprint: string;
      /** Kafka acknowledged: later retries with this key and body are replays. */
      accepted(): void;
      /** Producing failed: forget the claim, so a retry produces again. */
      abandoned(): void;
    };

/**
 * The one entry point of a keyed request: IdempotencyConflictError (key reused with another body),
 * RequestInFlightError (the first is still being produced here), a replay, or a claim to produce.
 * The database lookup is bounded: if the database does not answer, the request is produced anyway (the
 * derived ids still keep it stored once; only a reused key's other body would go undetected), so a
 * database outage never stops the API from accepting work.
 */
export async function claimIdempotencyKey(
  request: IdempotentRequest,
  lookup: StoredFingerprints = readStoredFingerprints,
): Promise<IdempotencyClaim> {
  const { route, key, scope, items } = request;
  const fingerprint = fingerprintOf(route, items);
  const ids = items.map((_, index) => idForKey(key, index, scope));
  // A scope is hex (or "no-api-key") and holds no "\0", so (scope, key) -> entry is one-to-one.
  const registryKey = `${scope}\u0000${key}`;

  const known = remembered.get(registryKey);
  if (known) {
    if (known.fingerprint !== fingerprint) throw new IdempotencyConflictError(IDEMPOTENCY_KEY_HEADER);
    if (!known.accepted) throw new RequestInFlightError(IDEMPOTENCY_KEY_HEADER, IN_FLIGHT_RETRY_AFTER_SECONDS);
    remember(registryKey, known);
    return { replayed: true, ids };
  }

  // Claimed before the first await, so a concurrent retry in this process sees it (in flight).
  const entry: RememberedKey = { fingerprint, accepted: false };
  remember(registryKey, entry);
  const abandoned = () => {
    if (remembered.get(registryKey) === entry) remembered.delete(registryKey);
  };
  let stored: Map<string, string | null> | undefined;
  try {
    stored = await withTimeout(lookup(ids), LOOKUP_TIMEOUT_MS, "reading stored rows for an Idempotency-Key");
  } catch (error) {
    log.warn({ err: error, route }, "could not read stored rows for an Idempotency-Key; producing without the check");
  }
  if (stored) {
    for (const storedFingerprint of stored.values()) {
      if (storedFingerprint !== null && storedFingerprint !== fingerprint) {
        abandoned();
        throw new IdempotencyConflictError(IDEMPOTENCY_KEY_HEADER);
      }
    }
    if (stored.size === ids.length) {
      entry.accepted = true;
      return { replayed: true, ids };
    }
  }
  return {
    replayed: false,
    ids,
    fingerprint,
    accepted: () => {
      entry.accepted = true;
    },
    abandoned,
  };
}
