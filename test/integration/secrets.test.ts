import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSecretReader, SecretUnavailableError } from "../../lib/secrets.js";
import { FakeSecretsManager } from "../support/secrets-manager.js";

/**
 * Secrets read at cold start with the function's role: lib/secrets.ts against a local stand-in for Secrets
 * Manager (the AWS SDK's own endpoint setting points it there), and the database pools configured the way a
 * deployed stage is (DATABASE_SECRET_ARN, no password in the environment) against the real PostgreSQL.
 */
const secretsManager = new FakeSecretsManager();
const arn = (name: string) => `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${name}-${randomBytes(3).toString("hex")}`;
/** Every character a URL would need escaped, so a password that reaches the connection string intact proves the encoding. */
const password = () => `p#%@/:?&x ${randomBytes(12).toString("hex")}`;
const saved = { ...process.env };

beforeAll(async () => {
  process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = await secretsManager.start();
  process.env.AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE";
  process.env.AWS_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  delete process.env.AWS_PROFILE;
});

afterAll(async () => {
  process.env = saved;
  await secretsManager.stop();
});

const requestsFor = (secretArn: string) => secretsManager.requests.filter((request) => request.secretId === secretArn);

describe("the secret reader (lib/secrets.ts)", () => {
  it("reads a secret once however many ask at once, signed with the process's credentials for the secret's region", async () => {
    const secretArn = arn("txlog-database");
    const secret = { username: "txlog_app", password: password(), engine: "postgres", host: "db.example" };
    secretsManager.answers.set(secretArn, { secretString: JSON.stringify(secret) });
    const reader = createSecretReader();

    const all = await Promise.all(Array.from({ length: 25 }, () => reader.credentials(secretArn)));
    expect(new Set(all.map((credentials) => JSON.stringify(credentials)))).toEqual(
      new Set([JSON.stringify({ username: "txlog_app", password: secret.password })]),
    );
    expect(await reader.credentials(secretArn)).toEqual({ username: "txlog_app", password: secret.password });
    const [request, ...more] = requestsFor(secretArn);
    expect(more).toHaveLength(0);
    expect(reader.fetches).toBe(1);
    expect(request?.target).toBe("secretsmanager.GetSecretValue");
    expect(request?.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE\/\d{8}\/eu-west-1\/secretsmanager\/aws4_request,/,
    );
  });

  it("keeps no failure: the error names the secret and the cause, and the next call asks again", async () => {
    const secretArn = arn("txlog-flaky");
    const value = password();
    const answers = [{ error: "AccessDeniedException" }, { secretString: JSON.stringify({ username: "u", password: value }) }];
    secretsManager.answers.set(secretArn, () => answers.shift() ?? { error: "ThrottlingException" });
    const reader = createSecretReader();

    const failed = await reader.credentials(secretArn).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(SecretUnavailableError);
    expect((failed as Error).message).toContain(`secret ${secretArn}: cannot read it (AccessDeniedException`);
    expect(await reader.credentials(secretArn)).toEqual({ username: "u", password: value });
    expect(requestsFor(secretArn)).toHaveLength(2);
  });

  it.each([
    [{ password: "a-password-value" }, "no username in its JSON"],
    [{ username: "u", password: "" }, "no password in its JSON"],
    ["a-password-value", "its SecretString is not JSON"],
  ])("refuses %j, saying what is missing and never the value", async (secret, reason) => {
    const secretArn = arn("txlog-odd");
    secretsManager.answers.set(secretArn, { secretString: typeof secret === "string" ? secret : JSON.stringify(secret) });
    const failed = (await createSecretReader()
      .credentials(secretArn)
      .catch((error: unknown) => error)) as Error;
    expect(failed.message).toBe(`secret ${secretArn}: ${reason}`);
    expect(failed.message).not.toContain("a-password-value");
  });

  it("reads the secret again once told to forget it (a login refused after a rotation)", async () => {
    const secretArn = arn("txlog-rotated");
    const [before, after] = [password(), password()];
    let current = before;
    secretsManager.answers.set(secretArn, () => ({ secretString: JSON.stringify({ username: "u", password: current }) }));
    const reader = createSecretReader();
    expect((await reader.credentials(secretArn)).password).toBe(before);
    current = after;
    expect((await reader.credentials(secretArn)).password).toBe(before);
    reader.forget(secretArn);
    expect((await reader.credentials(secretArn)).password).toBe(after);
    expect(requestsFor(secretArn)).toHaveLength(2);
  });
});

describe("the database pools of a deployed stage (DATABASE_SECRET_ARN)", () => {
  it("log in as the secret's user with its password, read once for both pools at the first connections", async () => {
    const secretArn = arn("txlog-prod-database");
    const testUrl = new URL(process.env.DATABASE_URL ?? "");
    const user = decodeURIComponent(testUrl.username) || "postgres";
    const secretPassword = password();
    secretsManager.answers.set(secretArn, { secretString: JSON.stringify({ username: user, password: secretPassword }) });
    // No password in the environment; the URL's user is not one the server knows: the secret's replaces it.
    testUrl.username = "no_such_role_txlog";
    testUrl.password = "";
    process.env.DATABASE_URL = testUrl.toString();
    process.env.DATABASE_SECRET_ARN = secretArn;
    delete process.env.DATABASE_USER;
    delete process.env.DATABASE_PASSWORD;
    // lib/config.ts reads the environment once, when first imported: here, after the lines above.
    const { config } = await import("../../lib/config.js");
    const { closeDb, getPool, getReadPool, getReadDb } = await import("../../lib/db/client.js");
    try {
      expect(config.DATABASE_SECRET_ARN).toBe(secretArn);
      expect(new URL(config.DATABASE_URL).password).toBe("");

      const currentUser = async (pool: ReturnType<typeof getPool>) =>
        (await pool.query<{ user: string }>("select current_user as user")).rows[0]?.user;
      const users = await Promise.all([
        ...Array.from({ length: 8 }, () => currentUser(getPool())),
        ...Array.from({ length: 8 }, () => currentUser(getReadPool())),
        getPool()
          .connect()
          .then(async (client) => {
            try {
              return (await client.query<{ user: string }>("select session_user as user")).rows[0]?.user;
            } finally {
              client.release();
            }
          }),
      ]);
      expect(new Set(users)).toEqual(new Set([user]));
      // Drizzle on the same pool (its transactions check a client out with connect()).
      expect(await getReadDb().transaction(async (tx) => (await tx.execute("select 1 as one")).rows)).toEqual([{ one: 1 }]);
      expect(requestsFor(secretArn)).toHaveLength(1);

      for (const pool of [getPool(), getReadPool()]) {
        const url = new URL(pool.options.connectionString ?? "");
        expect(decodeURIComponent(url.username)).toBe(user);
        expect(decodeURIComponent(url.password)).toBe(secretPassword);
        expect(url.host).toBe(testUrl.host);
      }
    } finally {
      await closeDb();
    }
  });
});
