/**
 * Does exporting a million rows as CSV hold memory constant? Evidence for GET /reports?format=csv, not part
 * of `npm run bench`:
 *
 *   node --expose-gc --import tsx bench/experiments/csv-export.ts [--rows 1000000] [--keep]
 *
 * Fills txlog_bench_export with `rows` rows (generate_series, once; --keep reuses them), then exports all of
 * them twice in this process, as the handler does: (1) response by response (exportCsv, 20,000 rows each,
 * following the cursor, as a client of the API does), (2) as one stream (csvChunks with no row limit, each chunk
 * written to a null sink, as a streaming adapter would). Prints the heap and RSS after a GC every 10% and the
 * peaks: a constant-memory export shows the same figures at 10% and at 100%.
 */
import { parseArgs } from "node:util";
import { closeDb, getDb } from "../../../lib/db/client.js";
import { csvChunks, exportCsv, MAX_CSV_ROWS, ReportsCsvQuery } from "../../../lib/reports/csv.js";
import { freshDatabase } from "../../lib/database.js";

const { values } = parseArgs({
  options: { rows: { type: "string", default: "1000000" }, keep: { type: "boolean", default: false } },
});
const total = Number(values.rows);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with node --expose-gc (see the header of this file)");

const url = process.env.DATABASE_URL as string;
const db = getDb();
const stored = async () => Number((await db.$client.query("select count(*) as n from transactions")).rows[0].n);
if (values.keep) console.log(`reusing ${await stored()} rows`);
else {
  await freshDatabase(url);
  const started = performance.now();
  // Chained columns are not this experiment's subject: a throwaway database without the chain's check.
  await db.$client.query("alter table transactions drop constraint if exists transactions_chained");
  await db.$client.query(
    `insert into transactions (id, step, type, amount, name_orig, old_balance_orig, new_balance_orig, name_dest,
       old_balance_dest, new_balance_dest, is_fraud, is_flagged_fraud, status, received_at)
     select gen_random_uuid(), i % 743, (array['CASH_IN','CASH_OUT','DEBIT','PAYMENT','TRANSFER'])[1 + i % 5],
       (i * 1.37)::numeric(18, 2), 'C' || (1000000000 + i), 170136.00, 160296.36, 'M' || (1979787155 + i % 1000),
       0, 0, i % 700 = 0, false, 'Historical', now() - make_interval(secs => i)
     from generate_series(1, $1::int) as i`,
    [total],
  );
  // An index whose order is the reports' ORDER BY (received_at DESC, id DESC: NULLS FIRST), so each chunk is an
  // index range scan rather than a scan and sort of the table; it measures the export, not the missing index.
  await db.$client.query("create index if not exists transactions_export_idx on transactions (received_at desc, id desc)");
  await db.$client.query("analyze transactions");
  console.log(`filled ${total} rows in ${Math.round(performance.now() - started)} ms`);
}

interface Sample {
  rows: number;
  heapMiB: number;
  rssMiB: number;
}
const mib = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
function sample(rows: number): Sample {
  gc?.();
  const { heapUsed, rss } = process.memoryUsage();
  return { rows, heapMiB: mib(heapUsed), rssMiB: mib(rss) };
}

async function measure(name: string, run: (tick: (rows: number) => void) => Promise<number>): Promise<void> {
  const samples: Sample[] = [sample(0)];
  let next = total / 10;
  let peakRss = 0;
  const started = performance.now();
  const rows = await run((done) => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    if (done >= next) {
      samples.push(sample(done));
      next += total / 10;
    }
  });
  const ms = Math.round(performance.now() - started);
  console.log(`\n${name}: ${rows} rows in ${ms} ms (${Math.round((rows / ms) * 1000)} rows/s), peak RSS ${mib(peakRss)} MiB`);
  console.table(samples);
}

await measure(`responses of ${MAX_CSV_ROWS} rows (exportCsv, following the cursor)`, async (tick) => {
  let rows = 0;
  let cursor: string | null | undefined;
  do {
    const query = ReportsCsvQuery.parse({ format: "csv", ...(cursor ? { cursor } : {}) });
    const part = await exportCsv(query);
    rows += part.rows;
    cursor = part.nextCursor;
    tick(rows);
  } while (cursor);
  return rows;
});

await measure("one stream (csvChunks, each chunk to a null sink)", async (tick) => {
  let rows = 0;
  let bytes = 0;
  const query = { ...ReportsCsvQuery.parse({ format: "csv" }), limit: Number.MAX_SAFE_INTEGER };
  for await (const chunk of csvChunks(query, { maxBytes: Number.POSITIVE_INFINITY })) {
    bytes += chunk.length;
    rows += chunk.split("\r\n").length - 1;
    tick(rows);
  }
  console.log(`streamed ${mib(bytes)} MiB`);
  return rows - 1;
});

await closeDb();
