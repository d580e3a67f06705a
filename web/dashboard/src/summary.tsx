import { Fragment } from "preact";
import { useMemo } from "preact/hooks";
import type { Api, Summary } from "./api.js";
import { ChartView } from "./charts.js";
import { usePoll } from "./poll.js";

const SUMMARY_INTERVAL_MS = 5_000;
const number = new Intl.NumberFormat("en-US");
/** Exact decimal strings, grouped for reading; never parsed into floats. */
const money = (amount: string) => {
  const [whole = "0", cents = "00"] = amount.split(".");
  return `${whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",")}.${cents}`;
};

/** Totals and the charts by type and by step (GET /reports/summary over every stored row), every 5 s. */
export function SummaryPanels({ api, live }: { api: Api; live: boolean }) {
  const { data: summary, error } = usePoll(() => api.get<Summary>("/reports/summary"), SUMMARY_INTERVAL_MS, [api], live);
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
      <div class="panel">
        <h2>Stored transactions</h2>
        {error ? <p class="error">{error.message}</p> : null}
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
      <div class="panel">
        <h2>By type</h2>
        <ChartView kind="bar" labels={byType.labels} series={byType.series} title="transactions by type" />
      </div>
      <div class="panel wide">
        <h2>By step (hour){summary?.byStepTruncated ? ", first 1,000 steps" : ""}</h2>
        <ChartView kind="bar" labels={byStep.labels} series={byStep.series} title="transactions by step" />
      </div>
    </section>
  );
}
