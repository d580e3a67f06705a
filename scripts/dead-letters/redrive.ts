import type { Message } from "kafkajs";
import { classifyRecord, isPoison, MAX_RECORD_BYTES } from "../../lib/consumer/classify.js";
import type { Database } from "../../lib/db/client.js";
import { countPending, type DeadLetterRow, findDeadLetter, markRedriven, pendingDeadLettersPage } from "./store.js";

/**
 * Redrive: a dead letter's record produced again to its source topic and partition, with its key and
 * value bytes (or, for one row, a corrected value), so the pipeline's consumer takes it like any record.
 * The row is then marked redriven_at. A transaction is stored once however often it is redriven: its id
 * is in the value, and the consumer skips ids already stored. A record that is still poison is
 * dead-lettered again, as a new row at its new offset; each record's check below says so beforehand.
 */

export class RedriveError extends Error {
  override name = "RedriveError";
}

export interface RedriveSelection {
  /** One row, whether or not it was redriven before. */
  id?: number;
  /** Else every row never redriven, of this reason and/or source topic when given. */
  reason?: string;
  topic?: string;
}

export interface RedriveOptions {
  db: Database;
  selection: RedriveSelection;
  /** Only with selection.id: the bytes to send instead of the stored value (the fix). */
  value?: Buffer;
  dryRun?: boolean;
  /** lib/kafka/producer.ts's produce (resolves once the broker acknowledged, acks=all). */
  produce: (topic: string, messages: Message[]) => Promise<void>;
  onProgress?: (done: number, total: number) => void;
}

export type RedriveOutcome = "redriven" | "would redrive" | "skipped";

export interface RedriveItem {
  id: number;
  source: string;
  reason: string;
  outcome: RedriveOutcome;
  /** Why it was skipped, or what the consumer will make of it ("storable", "still invalid: ..."). */
  note: string;
  /** True when the consumer will dead-letter it again (as far as can be told without the database). */
  stillPoison: boolean;
}

export interface RedriveSummary {
  dryRun: boolean;
  selected: number;
  redriven: number;
  skipped: number;
  stillPoison: number;
  /** The first MAX_ITEMS rows' outcomes (skipped ones first kept when there are more). */
  items: RedriveItem[];
  /** Outcomes not in `items` (counted above). */
  itemsOmitted: number;
}

/** Rows produced per round; each round is marked as soon as the broker acknowledged it. */
const ROUND = 200;
/** Rows read per page, and at most this many bytes of stored values (base64) a page: memory stays bounded. */
const PAGE_ROWS = 1_000;
const PAGE_BYTES = 16 * 1024 * 1024;
/** Outcomes kept for the summary; a redrive of 100,000 rows reports the rest as counts. */
export const MAX_ITEMS = 1_000;

const sourceOf = (row: DeadLetterRow) => `${row.topic}/${row.partition}@${row.offset}`;

/** What the consumer will decide about these bytes (its own pure check; id conflicts need the table and are not foreseen). */
function foresee(row: DeadLetterRow, value: Buffer, replaced: boolean): { stillPoison: boolean; note: string } {
  const verdict = classifyRecord({
    topic: row.topic,
    partition: row.partition,
    offset: row.offset,
    timestamp: Date.now(),
    key: row.key,
    value,
    headers: {},
  });
  if (isPoison(verdict)) return { stillPoison: true, note: `still ${verdict.reason}: ${verdict.detail}` };
  if (!replaced && (row.reason === "id-conflict" || row.reason === "idempotency-conflict")) {
    return {
      stillPoison: true,
      note: `valid, but its id is stored with other content: ${row.reason} again unless that row changed`,
    };
  }
  return { stillPoison: false, note: "a valid transaction message" };
}

/** The selected rows, a page at a time (the whole selection is never in memory). */
async function* selectPages(db: Database, selection: RedriveSelection): AsyncGenerator<DeadLetterRow[]> {
  if (selection.id !== undefined) {
    const row = await findDeadLetter(db, selection.id);
    if (!row) throw new RedriveError(`no dead letter ${selection.id}`);
    yield [row];
    return;
  }
  const filter = { reason: selection.reason, topic: selection.topic };
  let afterId = 0;
  for (;;) {
    const page = await pendingDeadLettersPage(db, filter, afterId, { limit: PAGE_ROWS, maxBytes: PAGE_BYTES });
    if (page.length === 0) return;
    yield page;
    afterId = page.at(-1)?.id ?? afterId;
  }
}

interface Send {
  row: DeadLetterRow;
  item: RedriveItem;
  message: Message;
}

export async function redrive(options: RedriveOptions): Promise<RedriveSummary> {
  const { db, selection } = options;
  if (options.value && selection.id === undefined) throw new RedriveError("a replacement value needs one dead letter (--id)");
  const total = selection.id === undefined ? await countPending(db, { reason: selection.reason, topic: selection.topic }) : 1;
  const summary: RedriveSummary = {
    dryRun: options.dryRun ?? false,
    selected: 0,
    redriven: 0,
    skipped: 0,
    stillPoison: 0,
    items: [],
    itemsOmitted: 0,
  };
  const keep = (item: RedriveItem) => {
    if (summary.items.length < MAX_ITEMS) summary.items.push(item);
    else summary.itemsOmitted += 1;
  };
  let done = 0;
  options.onProgress?.(0, total);
  for await (const rows of selectPages(db, selection)) {
    const sends: Send[] = [];
    for (const row of rows) {
      summary.selected += 1;
      const item: RedriveItem = {
        id: row.id,
        source: sourceOf(row),
        reason: row.reason,
        outcome: "skipped",
        note: "",
        stillPoison: false,
      };
      keep(item);
      const value = options.value ?? (row.value === null ? undefined : Buffer.from(row.value, "base64"));
      if (value === undefined) {
        item.note = `its value was not kept (${row.detail}); redrive it with --id ${row.id} --value-file F`;
        summary.skipped += 1;
        continue;
      }
      if (value.length > MAX_RECORD_BYTES) {
        item.note = `its value is ${value.length} bytes, over the ${MAX_RECORD_BYTES}-byte limit: fix it with --id ${row.id} --value-file F`;
        summary.skipped += 1;
        continue;
      }
      const foreseen = foresee(row, value, options.value !== undefined);
      if (options.value && foreseen.stillPoison) {
        throw new RedriveError(`the corrected value of dead letter ${row.id} is ${foreseen.note}; nothing was produced`);
      }
      Object.assign(item, foreseen, { outcome: options.dryRun ? "would redrive" : "redriven" });
      if (foreseen.stillPoison) summary.stillPoison += 1;
      sends.push({
        row,
        item,
        // To the partition it was read from, so it stays in order with its key's other records.
        message: {
          key: row.key,
          value,
          partition: row.partition,
          headers: { "redriven-from": `dead_letters ${row.id} (${item.source})` },
        },
      });
    }
    if (options.dryRun) {
      done += rows.length;
      options.onProgress?.(done, total);
      continue;
    }
    done += rows.length - sends.length;
    for (let start = 0; start < sends.length; start += ROUND) {
      const round = sends.slice(start, start + ROUND);
      const results = await Promise.allSettled(round.map(({ row, message }) => options.produce(row.topic, [message])));
      const sent = round.filter((_, index) => results[index]?.status === "fulfilled");
      await markRedriven(
        db,
        sent.map(({ row }) => row.id),
      );
      summary.redriven += sent.length;
      done += sent.length;
      options.onProgress?.(done, total);
      const failed = results.find((result): result is PromiseRejectedResult => result.status === "rejected");
      if (failed) {
        for (const { item } of round.filter((_, index) => results[index]?.status === "rejected")) {
          item.outcome = "skipped";
          item.note = "the broker did not take it";
        }
        const reason = failed.reason instanceof Error ? failed.reason.message : String(failed.reason);
        throw new RedriveError(`${summary.redriven} of ${total} redriven, then Kafka refused: ${reason}`, {
          cause: failed.reason,
        });
      }
    }
  }
  return summary;
}
