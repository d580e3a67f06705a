import type { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { TxlogError } from "./errors.js";

/** What a database (RDS/Aurora) or MSK SASL/SCRAM secret holds: JSON with at least these two keys. */
export interface Credentials {
  username: string;
  password: string;
}

/** A secret could not be read or does not hold credentials. Names the secret, never its value. */
export class SecretUnavailableError extends TxlogError {}

/** The region of a Secrets Manager ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>). */
function regionOf(secretArn: string): string {
  const region = secretArn.split(":")[3];
  if (!region) throw new SecretUnavailableError(`secret ${secretArn}: not a Secrets Manager ARN`);
  return region;
}

function credentialsIn(secretArn: string, secretString: string | undefined): Credentials {
  let parsed: unknown;
  try {
    parsed = JSON.parse(secretString ?? "");
  } catch {
    throw new SecretUnavailableError(`secret ${secretArn}: its SecretString is not JSON`);
  }
  const { username, password } = (parsed ?? {}) as Record<string, unknown>;
  const missing = [
    ...(typeof username === "string" && username !== "" ? [] : ["username"]),
    ...(typeof password === "string" && password !== "" ? [] : ["password"]),
  ];
  if (missing.length > 0) throw new SecretUnavailableError(`secret ${secretArn}: no ${missing.join(" or ")} in its JSON`);
  return { username: username as string, password: password as string };
}

export interface SecretReader {
  /** The credentials of `secretArn`: read from Secrets Manager on the first call, then the same promise. */
  credentials(secretArn: string): Promise<Credentials>;
  /** Reads `secretArn` again on next use (after a login refused: the secret may have been rotated). */
  forget(secretArn: string): void;
  /** How many GetSecretValue requests this reader has made. */
  readonly fetches: number;
}

/**
 * Reads secrets with the process's AWS credentials (in Lambda: the function's role, which may read exactly
 * the stage's secrets), each once per process: concurrent first calls share one request, and a failed
 * request is not kept, so the next call tries again. The SDK is loaded on first use only (Lambda's Node
 * runtimes provide it; serverless.yml keeps it out of the bundle). AWS_ENDPOINT_URL_SECRETS_MANAGER, read by
 * the SDK itself, points it elsewhere (the tests' local stand-in).
 */
export function createSecretReader(): SecretReader {
  const clients = new Map<string, Promise<SecretsManagerClient>>();
  const cache = new Map<string, Promise<Credentials>>();
  let fetches = 0;

  const clientFor = (region: string) => {
    let client = clients.get(region);
    if (!client) {
      client = import("@aws-sdk/client-secrets-manager").then(
        ({ SecretsManagerClient }) =>
          new SecretsManagerClient({
            region,
            maxAttempts: 3,
            // A cold start waits for this: fail within seconds rather than at the function's timeout.
            requestHandler: { connectionTimeout: 2_000, requestTimeout: 3_000 },
          }),
      );
      clients.set(region, client);
    }
    return client;
  };

  const fetch = async (secretArn: string): Promise<Credentials> => {
    const client = await clientFor(regionOf(secretArn));
    const { GetSecretValueCommand } = await import("@aws-sdk/client-secrets-manager");
    fetches += 1;
    let secretString: string | undefined;
    try {
      ({ SecretString: secretString } = await client.send(new GetSecretValueCommand({ SecretId: secretArn })));
    } catch (error) {
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw new SecretUnavailableError(`secret ${secretArn}: cannot read it (${reason})`, { cause: error });
    }
    return credentialsIn(secretArn, secretString);
  };

  return {
    credentials(secretArn) {
      let pending = cache.get(secretArn);
      if (!pending) {
        pending = fetch(secretArn);
        cache.set(secretArn, pending);
        pending.catch(() => {
          if (cache.get(secretArn) === pending) cache.delete(secretArn);
        });
      }
      return pending;
    },
    forget(secretArn) {
      cache.delete(secretArn);
    },
    get fetches() {
      return fetches;
    },
  };
}

/**
 * This process's reader. On globalThis: serverless-offline runs every function's bundle in one process, and
 * each bundle would otherwise read the secrets again.
 */
const READER = Symbol.for("txlog.secrets.reader");
const holder = globalThis as typeof globalThis & { [READER]?: SecretReader };
holder[READER] ??= createSecretReader();
export const secrets: SecretReader = holder[READER];
