import { Fragment } from "preact";
import { useMemo } from "preact/hooks";
import type { Api, Summary } from "./api.js";
import { ChartView } from "./charts.js";
import { usePoll } from "./poll.js";
import { Unavailable } from "./unavailable.js";

const SUMMARY_INTERVAL_MS = 5_000;
const number = new Intl.NumberFormat("en-US");
/** Exact decimal strings, grouped for reading; never parsed into floats. */
const money = (amount: string) => {
  const [whole = "0", cents = "00"] = amount.split(".");
  return `${whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",")}.${cents}`;
};

/** Totals and the charts by type and by step (GET /reports/summary over every stored row), every 5 s. */
export function SummaryPanels({ api, live }: { api: Api; live: boolean }) {
  const {
    data: summary,
    error,
    updatedAt,
  } = usePoll(() => api.get<Summary>("/reports/summary"), SUMMARY_INTERVAL_MS, [api], live);
  // While the summary cannot be read (a 503 names why), the last totals stay, marked stale, in every panel.
  const unavailable = (testId: string, what: string) =>
    error ? <Unavailable testId={testId} what={what} reason={error.message} shownFrom={summary ? updatedAt : undefined} /> : null;
  const stale = error ? "stale" : "";
  const byType = useMemo(
    () => ({
      labels: summary?.byType.map(({ type }) => type) ?? [],
      series: [{ label: "transactions", data: summary?.byType.map(({ count }) => count) ?? [], color: "#6366f1" }],
    }),
    [summary],
  );
  const byStep = useMemo(
    () => ({
      labels: summary?.byStep.map(({ step }) => String(step)) ?? [],
      series: [{ label: "transactions", data: summary?.byStep.map(({ count }) => count) ?? [], color: "#0891b2" }],
    }),
    [summary],
  );
  return (
    <section class="grid summary" data-testid="summary">
      <div class={`panel ${stale}`} data-testid="summary-totals">
        <h2>Stored transactions</h2>
        {unavailable("summary-unavailable", "Summary")}
        <dl class="totals">
          <dt>count</dt>
          <dd data-testid="summary-count">{summary ? number.format(summary.count) : "–"}</dd>
          <dt>amount</dt>
          <dd class="mono">{summary ? money(summary.amount) : "–"}</dd>
          {summary?.byStatus.map(({ status, count }) => (
            <Fragment key={status}>
              <dt>{status}</dt>
              <dd data-testid={`summary-${status.toLowerCase()}`}>{number.format(count)}</dd>
            </Fragment>
          ))}
          <dt>fraud</dt>
          <dd>{summary ? `${number.format(summary.fraud.count)} · ${money(summary.fraud.amount)}` : "–"}</dd>
          <dt>flagged</dt>
          <dd>{summary ? number.format(summary.flaggedFraud.count) : "–"}</dd>
        </dl>
      </div>
      <div class={`panel ${stale}`} data-testid="summary-by-type">
        <h2>By type</h2>
        {unavailable("by-type-unavailable", "Totals by type")}
        <ChartView kind="bar" labels={byType.labels} series={byType.series} title="transactions by type" />
      </div>
      <div class={`panel wide ${stale}`} data-testid="summary-by-step">
        <h2>By step (hour){summary?.byStepTruncated ? ", first 1,000 steps" : ""}</h2>
        {unavailable("by-step-unavailable", "Totals by step")}
        <ChartView kind="bar" labels={byStep.labels} series={byStep.series} title="transactions by step" />
      </div>
    </section>
  );
}
