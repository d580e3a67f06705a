import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DependencyUnavailableError, TimeoutError, TransactionLogUnavailableError } from "../../lib/errors.js";
import { asDependencyError, classifyFailure, describeFailure } from "../../lib/failures.js";

/** What pg throws for an error the server reported: a DatabaseError with the SQLSTATE as `code` and a severity. */
function databaseError(code: string, message = "server message", extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), { name: "error", code, severity: "ERROR", ...extra });
}

/** Drizzle's wrapper: the statement and its values in the message, pg's error as cause. */
function drizzleError(cause: unknown): Error {
  return Object.assign(new Error("Failed query: insert into transactions ...\nparams: 181.00,C1231006815"), {
    name: "DrizzleQueryError",
    cause,
  });
}

const sqlstateChar = fc.constantFrom(..."0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ");
const sqlstate = fc.tuple(sqlstateChar, sqlstateChar, sqlstateChar, sqlstateChar, sqlstateChar).map((chars) => chars.join(""));

describe("classifyFailure: only content is poison", () => {
  it("calls every SQLSTATE of class 22 or 23 content and every other one an outage, wrapped or not", () => {
    fc.assert(
      fc.property(sqlstate, fc.boolean(), (code, wrapped) => {
        const error = databaseError(code);
        const kind = classifyFailure(wrapped ? drizzleError(error) : error);
        expect(kind).toBe(code.startsWith("22") || code.startsWith("23") ? "content" : "outage");
      }),
    );
  });

  it.each([
    ["57014", "statement timeout"],
    ["55P03", "lock timeout"],
    ["40P01", "deadlock"],
    ["40001", "serialization failure"],
    ["53300", "too many connections"],
    ["53100", "disk full"],
    ["57P01", "admin shutdown"],
    ["57P03", "cannot connect now"],
    ["08006", "connection failure"],
    ["58030", "I/O error"],
  ])("%s (%s) is an outage", (code) => {
    expect(classifyFailure(drizzleError(databaseError(code)))).toBe("outage");
  });

  it("calls lost connections, client timeouts and broker errors outages, built-in error types defects", () => {
    expect(classifyFailure(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET", syscall: "read" }))).toBe("outage");
    expect(classifyFailure(new TimeoutError("function consume", 60_000))).toBe("outage");
    expect(classifyFailure(new TransactionLogUnavailableError("no ack"))).toBe("outage");
    expect(classifyFailure(Object.assign(new Error("x"), { name: "KafkaJSConnectionError" }))).toBe("outage");
    expect(classifyFailure(new DependencyUnavailableError("database", "SQLSTATE 57014"))).toBe("outage");
    expect(classifyFailure(new TypeError("cannot read properties of undefined"))).toBe("defect");
    expect(classifyFailure(new Error("cannot process this record"))).toBe("unknown");
  });

  it("turns an outage or a client error without a code met at a database call into DependencyUnavailableError", () => {
    const terminated = asDependencyError("database", drizzleError(new Error("Connection terminated unexpectedly")));
    expect(terminated).toBeInstanceOf(DependencyUnavailableError);
    expect((terminated as DependencyUnavailableError).reason).toBe("Error: Connection terminated unexpectedly");
    const content = drizzleError(databaseError("22003"));
    expect(asDependencyError("database", content)).toBe(content);
    const defect = new TypeError("bug");
    expect(asDependencyError("database", defect)).toBe(defect);
  });
});

describe("describeFailure: safe to log and to show", () => {
  it("never carries the statement's values, and names only where a refused value was", () => {
    const overflow = databaseError("22003", 'value "99999999999999999999" is out of range', {
      table: "transactions",
      column: "amount",
    });
    expect(describeFailure(drizzleError(overflow))).toBe("SQLSTATE 22003 (transactions.amount)");
    expect(describeFailure(drizzleError(databaseError("57014", "canceling statement due to statement timeout")))).toBe(
      "SQLSTATE 57014: canceling statement due to statement timeout",
    );
    expect(
      describeFailure(
        Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED", syscall: "connect" }),
      ),
    ).toBe("ECONNREFUSED (connect)");
    fc.assert(
      fc.property(fc.string(), fc.string(), (value, name) => {
        const text = describeFailure(drizzleError(databaseError("22P02", `invalid input syntax: "${value}"`, { column: "x" })));
        expect(text).toBe("SQLSTATE 22P02 (x)");
        expect(describeFailure(drizzleError(new Error(`${name}`)))).not.toContain("params:");
      }),
    );
  });
});
