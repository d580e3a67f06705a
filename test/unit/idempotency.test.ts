import { beforeEach, describe, expect, it } from "vitest";
import { IdempotencyConflictError, RequestInFlightError } from "../../lib/errors.js";
import { requestApiKey } from "../../lib/http/api-key.js";
import { headerValues } from "../../lib/http/headers.js";
import { problemOf } from "../../lib/http/problem.js";
import {
  apiKeyScope,
  claimIdempotencyKey,
  fingerprintOf,
  forgetRememberedKeys,
  type IdempotentRequest,
  idForKey,
  parseIdempotencyKey,
  type StoredFingerprints,
} from "../../lib/idempotency.js";
import { parseTransaction } from "../../lib/ingest.js";
import { paysimExamples } from "../../lib/transaction.js";

const IdempotencyKeyReusedError = IdempotencyConflictError;
const IdempotentRequestInFlightError = RequestInFlightError;
const idempotencyKeyValues = (event: Parameters<typeof headerValues>[0]) => headerValues(event, "Idempotency-Key");

/** The claim as lib/ingest.ts uses it: replay, or produce then report accepted / abandoned. */
async function acceptIdempotent(
  request: IdempotentRequest,
  produce: (ids: string[], fingerprint: string) => Promise<void>,
  lookup: StoredFingerprints,
): Promise<{ ids: string[]; fingerprint: string; replayed: boolean }> {
  const fingerprint = fingerprintOf(request.route, request.items);
  const claim = await claimIdempotencyKey(request, lookup);
  if (claim.replayed) return { ids: claim.ids, fingerprint, replayed: true };
  try {
    await produce(claim.ids, claim.fingerprint);
  } catch (error) {
    claim.abandoned();
    throw error;
  }
  claim.accepted();
  return { ids: claim.ids, fingerprint: claim.fingerprint, replayed: false };
}

/** The scope of the API key most tests send with. */
const SCOPE = apiKeyScope("txlog-local-development-key");
const OTHER_SCOPE = apiKeyScope("another-clients-api-key-0042");

/** The documented payment without its flags, which default to false. */
const { isFraud: _isFraud, isFlaggedFraud: _isFlaggedFraud, ...row } = paysimExamples.payment;

function statusOf(run: () => unknown): number | undefined {
  try {
    run();
  } catch (error) {
    return problemOf(error).status;
  }
  return undefined;
}

describe("parseIdempotencyKey", () => {
  it("takes the bare and the quoted (RFC 8941 sf-string) form as the same key", () => {
    expect(parseIdempotencyKey(["abc-123"])).toBe("abc-123");
    expect(parseIdempotencyKey(['"abc-123"'])).toBe("abc-123");
    expect(parseIdempotencyKey(['"a \\"quoted\\" \\\\ key"'])).toBe('a "quoted" \\ key');
    expect(parseIdempotencyKey(["k".repeat(255)])).toHaveLength(255);
    expect(parseIdempotencyKey(undefined)).toBeUndefined();
  });

  it.each([
    ["empty", [""]],
    ["spaces only", ["   "]],
    ["256 characters", ["k".repeat(256)]],
    ["non-ASCII", ["clé"]],
    ["a control character", ["a\u0001b"]],
    ["DEL", ["a\u007fb"]],
    ["an unterminated quote", ['"abc']],
    ["text after the closing quote", ['"abc"def']],
    ["a bad escape", ['"a\\b"']],
    ["an empty quoted string", ['""']],
    ["two values", ["a", "b"]],
  ])("answers 400 for %s", (_case, values) => {
    expect(statusOf(() => parseIdempotencyKey(values))).toBe(400);
  });

  it("finds the header in any letter case, all its values", () => {
    expect(idempotencyKeyValues({ headers: { "idempotency-key": "x" } })).toEqual(["x"]);
    expect(
      idempotencyKeyValues({ multiValueHeaders: { "IDEMPOTENCY-KEY": ["x", "y"] }, headers: { "IDEMPOTENCY-KEY": "y" } }),
    ).toEqual(["x", "y"]);
    expect(idempotencyKeyValues({ headers: { other: "x" } })).toBeUndefined();
  });
});

describe("derived ids and fingerprints", () => {
  it("derives stable UUIDv5 ids, one per (scope, key, index), item 0 shared by both routes", () => {
    expect(idForKey("k", 0, SCOPE)).toBe(idForKey("k", 0, SCOPE));
    expect(idForKey("k", 0, SCOPE)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const ids = [
      idForKey("k", 0, SCOPE),
      idForKey("k", 1, SCOPE),
      idForKey("k0", 0, SCOPE),
      idForKey("0k", 0, SCOPE),
      idForKey("k", 0, OTHER_SCOPE),
      idForKey("k", 0, apiKeyScope(undefined)),
    ];
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("scopes by a hash of the API key, never the key itself", () => {
    const apiKey = "txlog-local-development-key";
    expect(apiKeyScope(apiKey)).toMatch(/^[0-9a-f]{64}$/);
    expect(apiKeyScope(apiKey)).toBe(SCOPE);
    expect(apiKeyScope(apiKey)).not.toContain(apiKey);
    expect(apiKeyScope(`${apiKey}x`)).not.toBe(SCOPE);
    expect(apiKeyScope(undefined)).toBe("no-api-key");
  });

  it("fingerprints the validated body: the same transaction written differently is the same body", () => {
    const a = fingerprintOf("transaction", [parseTransaction(row)]);
    expect(fingerprintOf("transaction", [parseTransaction({ ...row, amount: "9.83964E3", isFraud: 0 })])).toBe(a);
    expect(fingerprintOf("transaction", [parseTransaction({ ...row, amount: "9839.65" })])).not.toBe(a);
    expect(fingerprintOf("transactions", [parseTransaction(row)])).not.toBe(a);
  });
});

describe("acceptIdempotent", () => {
  const items = [parseTransaction(row)];
  const fingerprint = fingerprintOf("transaction", items);
  const nothingStored = async () => new Map<string, string | null>();
  let produced: string[][];
  const produce = async (ids: string[]) => {
    produced.push(ids);
  };

  beforeEach(() => {
    forgetRememberedKeys();
    produced = [];
  });

  it("produces once, then replays the same ids for the same body and refuses another body", async () => {
    const first = await acceptIdempotent({ route: "transaction", scope: SCOPE, key: "k1", items }, produce, nothingStored);
    expect(first).toEqual({ ids: [idForKey("k1", 0, SCOPE)], fingerprint, replayed: false });
    const again = await acceptIdempotent({ route: "transaction", scope: SCOPE, key: "k1", items }, produce, nothingStored);
    expect(again.replayed).toBe(true);
    expect(produced).toHaveLength(1);
    const other = [parseTransaction({ ...row, amount: 1 })];
    await expect(
      acceptIdempotent({ route: "transaction", scope: SCOPE, key: "k1", items: other }, produce, nothingStored),
    ).rejects.toThrow(IdempotencyKeyReusedError);
  });

  it("answers 409 to a retry while the first is still being produced", async () => {
    let release: () => void = () => {};
    const slow = () => new Promise<void>((resolve) => (release = resolve));
    const first = acceptIdempotent({ route: "transaction", scope: SCOPE, key: "k2", items }, slow, nothingStored);
    await new Promise((resolve) => setImmediate(resolve));
    await expect(
      acceptIdempotent({ route: "transaction", scope: SCOPE, key: "k2", items }, produce, nothingStored),
    ).rejects.toThrow(IdempotentRequestInFlightError);
    release();
    expect((await first).replayed).toBe(false);
  });

  it("forgets a key whose produce failed, so the retry produces", async () => {
    const failing = async () => {
      throw new Error("broker down");
    };
    await expect(
      acceptIdempotent({ route: "transaction", scope: SCOPE, key: "k3", items }, failing, nothingStored),
    ).rejects.toThrow("broker down");
    expect(
      (await acceptIdempotent({ route: "transaction", scope: SCOPE, key: "k3", items }, produce, nothingStored)).replayed,
    ).toBe(false);
    expect(produced).toHaveLength(1);
  });

  it("follows the stored rows: another fingerprint -> 422; all stored -> replay; some stored -> produce again", async () => {
    const stored = (entries: [string, string | null][]) => async () => new Map(entries);
    await expect(
      acceptIdempotent(
        { route: "transaction", scope: SCOPE, key: "k4", items },
        produce,
        stored([[idForKey("k4", 0, SCOPE), "f".repeat(64)]]),
      ),
    ).rejects.toThrow(IdempotencyKeyReusedError);
    const replay = await acceptIdempotent(
      { route: "transaction", scope: SCOPE, key: "k5", items },
      produce,
      stored([[idForKey("k5", 0, SCOPE), fingerprint]]),
    );
    expect(replay.replayed).toBe(true);
    expect(produced).toHaveLength(0);

    const two = [items[0], items[0]].filter((item) => item !== undefined);
    const bulkFingerprint = fingerprintOf("transactions", two);
    const partial = await acceptIdempotent(
      { route: "transactions", scope: SCOPE, key: "k6", items: two },
      produce,
      stored([[idForKey("k6", 0, SCOPE), bulkFingerprint]]),
    );
    expect(partial.replayed).toBe(false);
    expect(produced).toEqual([[idForKey("k6", 0, SCOPE), idForKey("k6", 1, SCOPE)]]);
  });

  it("keeps two API keys apart: the same Idempotency-Key with different bodies is two requests, both produced", async () => {
    const other = [parseTransaction({ ...row, amount: "1.00" })];
    const mine = await acceptIdempotent({ route: "transaction", scope: SCOPE, key: "shared", items }, produce, nothingStored);
    const theirs = await acceptIdempotent(
      { route: "transaction", scope: OTHER_SCOPE, key: "shared", items: other },
      produce,
      nothingStored,
    );
    expect(mine.replayed).toBe(false);
    expect(theirs.replayed).toBe(false);
    expect(theirs.ids).not.toEqual(mine.ids);
    expect(produced).toEqual([mine.ids, theirs.ids]);
    // Within one API key, nothing changed: a retry replays, another body conflicts.
    expect(
      (await acceptIdempotent({ route: "transaction", scope: SCOPE, key: "shared", items }, produce, nothingStored)).replayed,
    ).toBe(true);
    await expect(
      acceptIdempotent({ route: "transaction", scope: OTHER_SCOPE, key: "shared", items }, produce, nothingStored),
    ).rejects.toThrow(IdempotencyKeyReusedError);
  });

  it("looks up only the ids of the request's own API key", async () => {
    const looked: string[][] = [];
    // Another API key's row with this Idempotency-Key and another body is stored: it is never read here.
    const theirRow = idForKey("k8", 0, OTHER_SCOPE);
    const lookup = async (ids: string[]) => {
      looked.push(ids);
      return new Map(ids.filter((id) => id === theirRow).map((id) => [id, "f".repeat(64)] as [string, string]));
    };
    const result = await acceptIdempotent({ route: "transaction", scope: SCOPE, key: "k8", items }, produce, lookup);
    expect(result.replayed).toBe(false);
    expect(looked).toEqual([[idForKey("k8", 0, SCOPE)]]);
  });

  it("produces when the database does not answer (a database outage never stops accepting)", async () => {
    const down = async (): Promise<Map<string, string | null>> => {
      throw new Error("ECONNREFUSED");
    };
    expect((await acceptIdempotent({ route: "transaction", scope: SCOPE, key: "k7", items }, produce, down)).replayed).toBe(
      false,
    );
    expect(produced).toHaveLength(1);
  });
});

describe("requestApiKey", () => {
  const apiGateway = { requestContext: { identity: { apiKey: "the-key-api-gateway-checked" } }, headers: { "x-api-key": "x" } };

  it("takes the key API Gateway checked (requestContext.identity.apiKey)", () => {
    expect(requestApiKey(apiGateway, false)).toBe("the-key-api-gateway-checked");
  });

  it("takes the x-api-key header under serverless-offline, whose identity.apiKey is a constant", () => {
    const offline = { requestContext: { identity: { apiKey: "offlineContext_apiKey" } }, headers: { "X-Api-Key": "sent-key" } };
    expect(requestApiKey(offline, true)).toBe("sent-key");
    expect(requestApiKey(apiGateway, true)).toBe("x");
  });

  it("falls back to the header without an identity key, and is undefined without either", () => {
    expect(requestApiKey({ requestContext: { identity: { apiKey: null } }, headers: { "x-api-key": "h" } }, false)).toBe("h");
    expect(requestApiKey({ headers: {} }, false)).toBeUndefined();
  });
});
