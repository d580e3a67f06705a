import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { config } from "../../lib/config.js";
import { closeDb, getPool, getReadPool } from "../../lib/db/client.js";

/**
 * The process's pools against a real PostgreSQL: a connection the server drops (a restart, a failover, an
 * operator's pg_terminate_backend) must fail the work that used it and nothing else. pg emits "error" on a
 * client whose connection breaks outside a query; pg-pool listens only while the client is idle in the pool,
 * so without a listener of our own a client checked out between two statements took the process down.
 */
const admin = new pg.Pool({ connectionString: config.DATABASE_URL, max: 1 });

afterAll(async () => {
  await closeDb();
  await admin.end();
});

async function terminate(pid: number): Promise<void> {
  await admin.query("select pg_terminate_backend($1)", [pid]);
}

describe("database pools", () => {
  it.each([
    ["write", getPool],
    ["read", getReadPool],
  ])(
    "a %s pool client killed while checked out, between statements, fails its next query without crashing the process",
    async (_, pool) => {
      const client = await pool().connect();
      await client.query("begin");
      const { rows } = await client.query<{ pid: number }>("select pg_backend_pid() as pid");
      await terminate(rows[0]?.pid as number);
      // The server's goodbye (57P01) and the socket's end arrive while no query runs: "error" events on the client.
      await sleep(500);
      await expect(client.query("select 1")).rejects.toThrow();
      client.release(true);
      // The pool goes on with a new connection.
      expect((await pool().query("select 1 as one")).rows).toEqual([{ one: 1 }]);
    },
  );

  it("an idle pooled connection killed by the server is replaced, the pool keeps serving", async () => {
    const pool = getPool();
    const { rows } = await pool.query<{ pid: number }>("select pg_backend_pid() as pid");
    await terminate(rows[0]?.pid as number);
    await sleep(500);
    expect((await pool.query("select 2 as two")).rows).toEqual([{ two: 2 }]);
  });
});
