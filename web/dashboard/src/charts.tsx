import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  type ChartConfiguration,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";
import { useEffect, useRef } from "preact/hooks";

// Only what the dashboard draws, so the bundle carries no other chart types.
Chart.register(
  BarController,
  BarElement,
  CategoryScale,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Filler,
  Legend,
  Tooltip,
);
Chart.defaults.animation = false;
Chart.defaults.font.family = "system-ui, sans-serif";
Chart.defaults.color = "#475569";

export interface Series {
  label: string;
  data: number[];
  color: string;
}

interface ChartProps {
  kind: "line" | "bar";
  labels: string[];
  series: Series[];
  /** For the browser tests and screen readers. */
  title: string;
  height?: number;
}

/** A Chart.js chart created once and updated in place when its data change. */
export function ChartView({ kind, labels, series, title, height = 180 }: ChartProps) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart | null>(null);

  useEffect(() => {
    if (!canvas.current) return;
    const config: ChartConfiguration<"line" | "bar"> = {
      type: kind,
      data: { labels: [], datasets: [] },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { display: series.length > 1, position: "bottom" } },
        scales: {
          x: { ticks: { maxTicksLimit: 8, autoSkip: true, maxRotation: 0 }, grid: { display: false } },
          y: { beginAtZero: true, ticks: { precision: 0 } },
        },
      },
    };
    chart.current = new Chart(canvas.current, config);
    return () => {
      chart.current?.destroy();
      chart.current = null;
    };
  }, [kind]);

  useEffect(() => {
    const current = chart.current;
    if (!current) return;
    current.data.labels = labels;
    current.data.datasets = series.map(({ label, data, color }) => ({
      label,
      data,
      borderColor: color,
      backgroundColor: kind === "bar" ? color : `${color}33`,
      fill: kind === "line",
      pointRadius: 0,
      borderWidth: kind === "line" ? 2 : 0,
      tension: 0.2,
    }));
    current.update();
  }, [labels, series, kind]);

  return (
    <div class="chart" style={{ height: `${height}px` }}>
      <canvas ref={canvas} role="img" aria-label={title} />
    </div>
  );
}
