import { useMemo } from "preact/hooks";
import type { Api, DependencyHealth, PipelineStats } from "./api.js";
import { ChartView, type Series } from "./charts.js";
import { usePoll } from "./poll.js";

export const STATS_INTERVAL_MS = 2_000;

const number = new Intl.NumberFormat("en-US");
const rate = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });
const clock = (iso: string) => new Date(iso).toLocaleTimeString("en-GB", { hour12: false });

function HealthCard({ name, health, detail }: { name: string; health: DependencyHealth | undefined; detail?: string }) {
  const status = health?.status ?? "unknown";
  return (
    <div class={`card health ${status}`} data-testid={`health-${name.toLowerCase()}`} data-status={status}>
      <div class="label">
        <span class="dot" aria-hidden="true" />
        {name}
      </div>
      <div class="value">{status}</div>
      <div class="muted">
        {health ? `${health.latencyMs} ms` : "…"}
        {detail ? ` · ${detail}` : ""}
        {health?.error ? ` · ${health.error}` : ""}
      </div>
    </div>
  );
}

function RateCard({ name, value, testId }: { name: string; value: number | undefined; testId: string }) {
  return (
    <div class="card rate" data-testid={testId}>
      <div class="label">{name}</div>
      <div class="value">{value === undefined ? "–" : rate.format(value)}</div>
      <div class="muted">per second, last 10 s</div>
    </div>
  );
}

/** Health, throughput, lag and dead letters (GET /pipeline/stats), every 2 s. */
export function PipelinePanels({ api, live }: { api: Api; live: boolean }) {
  const {
    data: stats,
    error,
    updatedAt,
  } = usePoll(() => api.get<PipelineStats>("/pipeline/stats"), STATS_INTERVAL_MS, [api], live);
  const throughput = stats?.throughput;
  const labels = useMemo(() => throughput?.series.map(({ at }) => clock(at)) ?? [], [throughput]);
  const series = useMemo<Series[]>(
    () =>
      throughput
        ? [
            { label: "accepted/s", data: throughput.series.map(({ accepted }) => accepted), color: "#2563eb" },
            { label: "stored/s", data: throughput.series.map(({ stored }) => stored), color: "#16a34a" },
          ]
        : [],
    [throughput],
  );
  const consumer = stats?.health.consumer;
  return (
    <section class="pipeline" data-testid="pipeline" aria-busy={!stats}>
      <div class="status-line muted" data-testid="stats-updated">
        {error ? <span class="error">{error.message}</span> : null}
        {updatedAt ? ` updated ${new Date(updatedAt).toLocaleTimeString("en-GB", { hour12: false })}` : " loading…"}
        {stats ? ` · topic ${stats.topic}` : ""}
      </div>
      <div class="cards">
        <HealthCard name="Kafka" health={stats?.health.kafka} />
        <HealthCard name="PostgreSQL" health={stats?.health.database} />
        <HealthCard
          name="Consumer"
          health={consumer}
          detail={
            consumer
              ? `${consumer.groupId}: ${consumer.members} member${consumer.members === 1 ? "" : "s"}, ${consumer.state}`
              : undefined
          }
        />
        <RateCard name="accepted/s" value={throughput?.acceptedPerSecond} testId="accepted-rate" />
        <RateCard name="stored/s" value={throughput?.storedPerSecond} testId="stored-rate" />
        <div class="card" data-testid="lag-total">
          <div class="label">consumer lag</div>
          <div class="value">{stats?.lag ? number.format(stats.lag.total) : "–"}</div>
          <div class="muted">records not yet committed</div>
        </div>
      </div>
      <div class="grid">
        <div class="panel wide">
          <h2>Throughput, last {throughput?.windowSeconds ?? 60} s</h2>
          <ChartView kind="line" labels={labels} series={series} title="accepted and stored per second" />
        </div>
        <div class="panel">
          <h2>Consumer lag per partition</h2>
          <table data-testid="lag">
            <thead>
              <tr>
                <th>partition</th>
                <th class="num">end offset</th>
                <th class="num">committed</th>
                <th class="num">lag</th>
              </tr>
            </thead>
            <tbody>
              {stats?.lag?.partitions.map((partition) => (
                <tr key={partition.partition} data-partition={partition.partition}>
                  <td>{partition.partition}</td>
                  <td class="num">{number.format(partition.highWatermark)}</td>
                  <td class="num">{partition.committedOffset === null ? "–" : number.format(partition.committedOffset)}</td>
                  <td class={`num ${partition.lag > 0 ? "behind" : ""}`} data-col="lag">
                    {number.format(partition.lag)}
                  </td>
                </tr>
              )) ?? (
                <tr>
                  <td colSpan={4} class="muted">
                    {stats ? "Kafka did not answer" : "…"}
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
        <div class="panel" data-testid="dead-letters">
          <h2>Dead letters {stats?.deadLetters ? `(${number.format(stats.deadLetters.total)})` : ""}</h2>
          <table>
            <thead>
              <tr>
                <th>reason</th>
                <th class="num">count</th>
                <th>last</th>
              </tr>
            </thead>
            <tbody>
              {stats?.deadLetters?.byReason.length ? (
                stats.deadLetters.byReason.map((row) => (
                  <tr key={row.reason} data-reason={row.reason}>
                    <td>{row.reason}</td>
                    <td class="num" data-col="count">
                      {number.format(row.count)}
                    </td>
                    <td>{clock(row.lastAt)}</td>
                  </tr>
                ))
              ) : (
                <tr>
                  <td colSpan={3} class="muted">
                    {stats?.deadLetters ? "none" : "…"}
                  </td>
                </tr>
              )}
            </tbody>
          </table>
          {stats?.deadLetters?.recent.length ? (
            <ul class="recent" data-testid="recent-dead-letters">
              {stats.deadLetters.recent.slice(0, 5).map((letter) => (
                <li key={letter.id} title={letter.detail}>
                  <strong>{letter.reason}</strong> p{letter.partition}@{letter.offset}: {letter.detail}
                </li>
              ))}
            </ul>
          ) : null}
        </div>
      </div>
    </section>
  );
}
