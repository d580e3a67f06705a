import { useMemo } from "preact/hooks";
import type { Api, DependencyHealth, PipelineStats, StatsPart } from "./api.js";
import { ChartView, type Series } from "./charts.js";
import { usePoll } from "./poll.js";
import { clock, Unavailable, useLastGood } from "./unavailable.js";

export const STATS_INTERVAL_MS = 2_000;

const number = new Intl.NumberFormat("en-US");
const rate = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });

/**
 * A health card. While GET /pipeline/stats itself fails, the last status read is not shown as today's: the
 * card says "unknown" and what it was when last read.
 */
function HealthCard({
  name,
  health,
  detail,
  stale,
}: {
  name: string;
  health: DependencyHealth | undefined;
  detail?: string | undefined;
  stale: boolean;
}) {
  const status = !health ? "unknown" : stale ? "unknown" : health.status;
  return (
    <div class={`card health ${status}`} data-testid={`health-${name.toLowerCase()}`} data-status={status}>
      <div class="label">
        <span class="dot" aria-hidden="true" />
        {name}
      </div>
      <div class="value">{status}</div>
      <div class="muted">
        {!health ? "…" : stale ? `was ${health.status} when last read` : `${health.latencyMs} ms`}
        {detail && !stale ? ` · ${detail}` : ""}
        {health?.error && !stale ? ` · ${health.error}` : ""}
      </div>
    </div>
  );
}

/** A number card: the value, or "unavailable" and why (a rate of a minute ago is not shown as now's). */
function NumberCard({
  name,
  value,
  unit,
  reason,
  testId,
}: {
  name: string;
  value: string | undefined;
  unit: string;
  reason: string | undefined;
  testId: string;
}) {
  return (
    <div class={`card ${reason ? "unavailable-card" : ""}`} data-testid={testId} data-unavailable={reason ? "true" : undefined}>
      <div class="label">{name}</div>
      <div class="value">{reason ? "unavailable" : (value ?? "–")}</div>
      <div class="muted">{reason ?? unit}</div>
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
  // Why a part is not shown as read now: the whole request failed, or the server could not read that part.
  const reasonOf = (part: StatsPart): string | undefined =>
    error
      ? `no answer from /pipeline/stats: ${error.message}`
      : stats && stats[part] === null
        ? (stats.unavailable?.[part] ?? "not read")
        : undefined;
  const throughputReason = reasonOf("throughput");
  const lagReason = reasonOf("lag");
  const deadLettersReason = reasonOf("deadLetters");
  const deadLetterTopicReason = reasonOf("deadLetterTopic");
  const throughput = useLastGood(stats?.throughput, updatedAt);
  const lag = useLastGood(stats?.lag, updatedAt);
  const deadLetters = useLastGood(stats?.deadLetters, updatedAt);

  const series = throughput.value?.series;
  const labels = useMemo(() => series?.map(({ at }) => clock(at)) ?? [], [series]);
  const lines = useMemo<Series[]>(
    () =>
      series
        ? [
            { label: "accepted/s", data: series.map(({ accepted }) => accepted), color: "#2563eb" },
            { label: "stored/s", data: series.map(({ stored }) => stored), color: "#16a34a" },
          ]
        : [],
    [series],
  );
  const consumer = stats?.health.consumer;
  const topicMessages = stats?.deadLetterTopic && !error ? stats.deadLetterTopic : undefined;
  return (
    <section class="pipeline" data-testid="pipeline" aria-busy={!stats}>
      <div class="status-line muted" data-testid="stats-updated">
        {error ? <span class="error">{error.message}</span> : null}
        {updatedAt ? ` updated ${clock(updatedAt)}` : " loading…"}
        {stats ? ` · topic ${stats.topic}` : ""}
      </div>
      <div class="cards">
        <HealthCard name="Kafka" health={stats?.health.kafka} stale={Boolean(error)} />
        <HealthCard name="PostgreSQL" health={stats?.health.database} stale={Boolean(error)} />
        <HealthCard
          name="Consumer"
          health={consumer}
          stale={Boolean(error)}
          detail={
            consumer
              ? `${consumer.groupId}: ${consumer.members} member${consumer.members === 1 ? "" : "s"}, ${consumer.state}`
              : undefined
          }
        />
        <NumberCard
          name="accepted/s"
          value={stats?.throughput ? rate.format(stats.throughput.acceptedPerSecond) : undefined}
          unit="per second, last 10 s"
          reason={throughputReason}
          testId="accepted-rate"
        />
        <NumberCard
          name="stored/s"
          value={stats?.throughput ? rate.format(stats.throughput.storedPerSecond) : undefined}
          unit="per second, last 10 s"
          reason={throughputReason}
          testId="stored-rate"
        />
        <NumberCard
          name="consumer lag"
          value={stats?.lag ? number.format(stats.lag.total) : undefined}
          unit="records not yet committed"
          reason={lagReason}
          testId="lag-total"
        />
      </div>
      <div class="grid">
        <div class={`panel wide ${throughputReason ? "stale" : ""}`} data-testid="throughput">
          <h2>Throughput, last {throughput.value?.windowSeconds ?? 60} s</h2>
          {throughputReason ? (
            <Unavailable testId="throughput-unavailable" what="Throughput" reason={throughputReason} shownFrom={throughput.at} />
          ) : null}
          <ChartView kind="line" labels={labels} series={lines} title="accepted and stored per second" />
        </div>
        <div class={`panel ${lagReason ? "stale" : ""}`} data-testid="lag-panel">
          <h2>Consumer lag per partition</h2>
          {lagReason ? <Unavailable testId="lag-unavailable" what="Consumer lag" reason={lagReason} shownFrom={lag.at} /> : null}
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
              {lag.value?.partitions.map((partition) => (
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
                    {lagReason ? "not read" : "…"}
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
        <div class={`panel ${deadLettersReason ? "stale" : ""}`} data-testid="dead-letters">
          <h2>
            Dead letters{" "}
            <span data-testid="dead-letter-total">
              {deadLettersReason ? "" : deadLetters.value ? `(${number.format(deadLetters.value.total)} recorded)` : ""}
            </span>
          </h2>
          <div class="muted topic-count" data-testid="dead-letter-topic">
            {topicMessages
              ? `${number.format(topicMessages.messages)} message${topicMessages.messages === 1 ? "" : "s"} on ${topicMessages.topic}`
              : deadLetterTopicReason
                ? `dead-letter topic unavailable: ${deadLetterTopicReason}`
                : "…"}
          </div>
          {deadLettersReason ? (
            <Unavailable
              testId="dead-letters-unavailable"
              what="Dead letters"
              reason={deadLettersReason}
              shownFrom={deadLetters.at}
            />
          ) : null}
          <table>
            <thead>
              <tr>
                <th>reason</th>
                <th class="num">count</th>
                <th>last</th>
              </tr>
            </thead>
            <tbody>
              {deadLetters.value?.byReason.length ? (
                deadLetters.value.byReason.map((row) => (
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
                    {deadLetters.value ? "none" : deadLettersReason ? "not read" : "…"}
                  </td>
                </tr>
              )}
            </tbody>
          </table>
          {deadLetters.value?.recent.length ? (
            <ul class="recent" data-testid="recent-dead-letters">
              {deadLetters.value.recent.slice(0, 5).map((letter) => (
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
