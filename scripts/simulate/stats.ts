/** Latencies in milliseconds, kept compactly (8 bytes each) so millions of samples fit. */
export class LatencyRecorder {
  private values = new Float64Array(1024);
  private size = 0;

  record(ms: number): void {
    if (this.size === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.size++] = ms;
  }

  get count(): number {
    return this.size;
  }

  summary(): LatencySummary {
    return summarize(this.values.subarray(0, this.size));
  }
}

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile of sorted values (q in 0..1). */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

export function summarize(values: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(values).sort();
  const round = (ms: number) => Math.round(ms * 10) / 10;
  return {
    count: sorted.length,
    p50: round(percentile(sorted, 0.5)),
    p95: round(percentile(sorted, 0.95)),
    p99: round(percentile(sorted, 0.99)),
    max: round(sorted.length ? (sorted[sorted.length - 1] as number) : 0),
  };
}

/**
 * Paces work to `perSecond` units: each call to `take(n)` resolves when n more units are due, from
 * a fixed schedule (start + sent / rate), so short stalls are caught up rather than lost.
 */
export class Pacer {
  private scheduled = 0;
  private readonly started: number;

  constructor(
    private readonly perSecond: number | undefined,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    private readonly now: () => number = () => performance.now(),
  ) {
    this.started = now();
  }

  async take(units: number): Promise<void> {
    if (!this.perSecond) return;
    const dueAt = this.started + (this.scheduled / this.perSecond) * 1000;
    this.scheduled += units;
    const wait = dueAt - this.now();
    if (wait > 1) await this.sleep(wait);
  }
}

/** Limits how many promises run at once; `acquire` waits for a free slot. */
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async acquire(): Promise<void> {
    if (this.active < this.limit) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }

  /** Resolves when nothing is running. */
  async drain(): Promise<void> {
    while (this.active > 0) await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
