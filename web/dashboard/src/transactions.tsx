import { useEffect, useRef, useState } from "preact/hooks";
import { accountHref } from "./account.js";
import type { Api, ReportPage } from "./api.js";
import { downloadCsv } from "./download.js";
import { usePoll } from "./poll.js";
import { Unavailable } from "./unavailable.js";

/** The API's own default page: the seed's 100 rows fit on the first page. */
const PAGE_SIZES = [25, 100, 500];
const DEFAULT_PAGE_SIZE = 100;
const TABLE_INTERVAL_MS = 2_000;
const TYPES = ["CASH_IN", "CASH_OUT", "DEBIT", "PAYMENT", "TRANSFER"];
const ACCOUNT = /^[A-Za-z0-9_-]{0,64}$/;

interface Filters {
  status: string;
  type: string;
  isFraud: string;
  nameOrig: string;
}

const EMPTY: Filters = { status: "", type: "", isFraud: "", nameOrig: "" };
const time = (iso: string) => {
  const date = new Date(iso);
  return `${date.toISOString().slice(0, 10)} ${date.toLocaleTimeString("en-GB", { hour12: false })}`;
};

/**
 * GET /reports as a table: newest first, the API's filters, paging with its cursor (a stack of the cursors
 * that led here, for "Newer"). The first page refreshes every 2 s; an older page stays as it was read.
 */
export function TransactionsTable({ api, live }: { api: Api; live: boolean }) {
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [account, setAccount] = useState("");
  const [pageSize, setPageSize] = useState(DEFAULT_PAGE_SIZE);
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors.at(-1);
  const firstPage = cursor === undefined;

  // The account filter applies as the user types, once it is a valid account name.
  useEffect(() => {
    const timer = setTimeout(() => {
      if (ACCOUNT.test(account))
        setFilters((current) => (current.nameOrig === account ? current : { ...current, nameOrig: account }));
    }, 300);
    return () => clearTimeout(timer);
  }, [account]);
  // Filters change the rows: back to the newest page.
  useEffect(() => setCursors([]), [filters, pageSize]);

  const {
    data: polled,
    error,
    updatedAt,
    current,
  } = usePoll(
    () => api.get<ReportPage>("/reports", { ...filters, limit: String(pageSize), cursor }),
    TABLE_INTERVAL_MS,
    [api, filters, pageSize, cursor],
    live || !firstPage,
  );

  // Rows read for other filters or another page are not shown as this one's when it cannot be read.
  const page = current || !error ? polled : undefined;

  // Rows that were not on the previous answer of the first page are highlighted once.
  const seen = useRef<Set<string> | null>(null);
  const fresh = new Set<string>();
  if (page && firstPage) {
    for (const item of page.items) if (seen.current && !seen.current.has(item.id)) fresh.add(item.id);
  }
  useEffect(() => {
    if (page && firstPage) seen.current = new Set(page.items.map(({ id }) => id));
  }, [page, firstPage]);

  // Every row matching the filters, not just this page, as one file.
  const [download, setDownload] = useState<{ running: boolean; rows: number; error?: string }>({ running: false, rows: 0 });
  const startDownload = () => {
    setDownload({ running: true, rows: 0 });
    downloadCsv(api, { ...filters }, (rows) => setDownload({ running: true, rows }))
      .then((rows) => setDownload({ running: false, rows }))
      .catch((caught: unknown) =>
        setDownload({ running: false, rows: 0, error: caught instanceof Error ? caught.message : String(caught) }),
      );
  };

  const set = (name: keyof Filters) => (event: Event) =>
    setFilters((current) => ({ ...current, [name]: (event.target as HTMLSelectElement).value }));

  return (
    <section class="panel transactions" data-testid="transactions">
      <div class="panel-head">
        <h2>Transactions</h2>
        <span class="muted">newest first{firstPage ? (live ? ", live" : ", paused") : `, page ${cursors.length + 1}`}</span>
        <span class="spacer" />
        <select aria-label="status" name="status" value={filters.status} onChange={set("status")}>
          <option value="">any status</option>
          <option value="Completed">Completed</option>
          <option value="Historical">Historical</option>
        </select>
        <select aria-label="type" name="type" value={filters.type} onChange={set("type")}>
          <option value="">any type</option>
          {TYPES.map((type) => (
            <option key={type} value={type}>
              {type}
            </option>
          ))}
        </select>
        <select aria-label="fraud" name="isFraud" value={filters.isFraud} onChange={set("isFraud")}>
          <option value="">fraud or not</option>
          <option value="true">fraud</option>
          <option value="false">not fraud</option>
        </select>
        <input
          aria-label="account"
          name="nameOrig"
          placeholder="account (nameOrig)"
          value={account}
          class={ACCOUNT.test(account) ? "" : "invalid"}
          onInput={(event) => setAccount((event.target as HTMLInputElement).value.trim())}
        />
        <button type="button" class="secondary" data-testid="download-csv" disabled={download.running} onClick={startDownload}>
          {download.running ? `CSV… ${download.rows} rows` : "Download CSV"}
        </button>
      </div>
      {download.error ? <p class="error" role="alert">{`CSV download failed: ${download.error}`}</p> : null}
      {error ? (
        <Unavailable testId="transactions-unavailable" what="Transactions" reason={error.message} shownFrom={page && updatedAt} />
      ) : null}
      <table class={error ? "stale" : ""}>
        <thead>
          <tr>
            <th>received</th>
            <th>id</th>
            <th class="num">step</th>
            <th>type</th>
            <th class="num">amount</th>
            <th>from</th>
            <th>to</th>
            <th>fraud</th>
            <th>status</th>
          </tr>
        </thead>
        <tbody>
          {page?.items.map((item) => (
            <tr key={item.id} data-id={item.id} class={fresh.has(item.id) ? "fresh" : ""}>
              <td>{time(item.receivedAt)}</td>
              <td class="mono" title={item.id}>
                …{item.id.slice(-12)}
              </td>
              <td class="num">{item.step}</td>
              <td>{item.type}</td>
              <td class="num mono">{item.amount}</td>
              <td class="mono">
                <a href={accountHref(item.nameOrig)}>{item.nameOrig}</a>
              </td>
              <td class="mono">
                <a href={accountHref(item.nameDest)}>{item.nameDest}</a>
              </td>
              <td>{item.isFraud ? <span class="badge fraud">fraud</span> : item.isFlaggedFraud ? "flagged" : ""}</td>
              <td data-col="status">
                <span class={`badge ${item.status.toLowerCase()}`}>{item.status}</span>
              </td>
            </tr>
          ))}
          {page && page.items.length === 0 ? (
            <tr>
              <td colSpan={9} class="muted">
                no transactions match
              </td>
            </tr>
          ) : null}
        </tbody>
      </table>
      <div class="pager">
        <button type="button" class="secondary" disabled={firstPage} onClick={() => setCursors([])}>
          Newest
        </button>
        <button type="button" class="secondary" disabled={firstPage} onClick={() => setCursors((stack) => stack.slice(0, -1))}>
          Newer
        </button>
        <span data-testid="shown" class="muted">
          {page ? `${page.items.length} shown` : "…"}
        </span>
        <select
          aria-label="page size"
          value={String(pageSize)}
          onChange={(event) => setPageSize(Number((event.target as HTMLSelectElement).value))}
        >
          {PAGE_SIZES.map((size) => (
            <option key={size} value={String(size)}>
              {size} a page
            </option>
          ))}
        </select>
        <button
          type="button"
          class="secondary"
          disabled={!page?.nextCursor}
          onClick={() => page?.nextCursor && setCursors((stack) => [...stack, page.nextCursor as string])}
        >
          Older
        </button>
      </div>
    </section>
  );
}
