/**
 * Where the API's CPU goes per item of a bulk POST, outside HTTP and Kafka: evidence for the bulk stage's
 * profile (docs/performance.md), not part of `npm run bench`. No broker or database needed:
 *
 *   npx tsx bench/experiments/bulk-item-cost.ts [--items 500] [--rounds 200]
 *
 * Each step runs over one request body of PaySim rows, the way bench stage 3 sends them.
 */
import { parseArgs } from "node:util";
import { v7 as uuidv7 } from "uuid";
import { parseJsonExact } from "../../lib/http/json-body.js";
import { transactionId } from "../../lib/ids.js";
import { parseTransactions, toMessage } from "../../lib/ingest.js";
import { paysimBodies } from "../lib/paysim.js";

const { values } = parseArgs({
  options: { items: { type: "string", default: "500" }, rounds: { type: "string", default: "200" } },
});
const items = Number(values.items);
const rounds = Number(values.rounds);

const body = JSON.stringify(paysimBodies(undefined, items));
const parsed = parseJsonExact(body);
const transactions = parseTransactions(parsed, items);
const receivedAt = new Date().toISOString();

function perItem(name: string, step: () => unknown): void {
  for (let round = 0; round < 20; round++) step();
  const started = performance.now();
  for (let round = 0; round < rounds; round++) step();
  const microseconds = ((performance.now() - started) * 1000) / rounds / items;
  process.stdout.write(`${name.padEnd(36)} ${microseconds.toFixed(2)} µs/item\n`);
}

perItem("JSON.parse (rounds numbers; reference)", () => JSON.parse(body));
perItem("parseJsonExact (lossless-json)", () => parseJsonExact(body));
perItem("parseTransactions (zod)", () => parseTransactions(parsed, items));
perItem("toMessage (id, JSON.stringify)", () => transactions.map((transaction) => toMessage(transaction, receivedAt)));
perItem("uuid v7() (16 bytes from the system each)", () => transactions.map(() => uuidv7()));
perItem("transactionId (pooled random bytes)", () => transactions.map(() => transactionId()));
