import type pg from "pg";

/**
 * Ends `pool` and resolves once every connection of it has closed. pg-pool's end() resolves as soon as it has let
 * them go, before their sockets close; a `drop database … with (force)` in that window terminates one (57P01),
 * and its error goes to the released client's idle listener, then to a pool nobody listens to: an uncaught
 * exception that fails the whole run.
 */
export async function closePool(pool: pg.Pool | undefined): Promise<void> {
  if (!pool || pool.ending) return;
  let open = pool.totalCount;
  const closed = new Promise<void>((resolve) => {
    if (open === 0) resolve();
    pool.on("remove", () => {
      open -= 1;
      if (open <= 0) resolve();
    });
  });
  // Nothing of a pool being closed may crash the run, whatever the server does meanwhile.
  pool.on("error", () => {});
  await pool.end();
  await closed;
}
