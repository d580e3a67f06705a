import { appendFile } from "node:fs/promises";

// Appends each batch, as Lambda delivered it, to one line of BATCH_FILE (JSON Lines).
export async function record(event) {
  await appendFile(process.env.BATCH_FILE ?? "batches.jsonl", `${JSON.stringify(event)}\n`);
  const count = Object.values(event.records).reduce((sum, records) => sum + records.length, 0);
  console.log(`${event.eventSource}: ${count} record(s)`);
}
