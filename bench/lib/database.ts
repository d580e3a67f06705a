import { migrateDatabase } from "../../lib/db/client.js";
import { dropDatabase, ensureDatabase } from "../../scripts/infra/index.js";

/** A fresh, migrated database: the bench never measures against rows a previous run left behind. */
export async function freshDatabase(url: string): Promise<void> {
  await dropDatabase(url);
  await ensureDatabase(url);
  await migrateDatabase(url);
}
