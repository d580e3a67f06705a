import { getPool } from "../../lib/db/client.js";

/** `select 1` on the app's pool: true when PostgreSQL answers. */
export async function databaseAnswers(): Promise<boolean> {
  try {
    await getPool().query("select 1");
    return true;
  } catch {
    return false;
  }
}
