import type { KafkaMessage } from "kafkajs";

/** Lambda's payload limit; a batch stops growing before it (one partition chunk is always taken). */
export const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;

/** One partition's consecutive records: a part of the next event. */
export interface BatchPart {
  topic: string;
  partition: number;
  messages: KafkaMessage[];
}

interface PendingPart extends BatchPart {
  bytes: number;
  arrivedAt: number;
  settle: (delivered: boolean) => void;
}

export interface BatcherOptions {
  batchSize: number;
  maximumBatchingWindowMs: number;
  /** Invocations in flight at once (each holds partitions no other one holds). Default 1. */
  maxConcurrency?: number;
  /** Invokes the function with one event of these parts: true once it succeeded, false when it gave up (stopping). */
  deliver: (parts: BatchPart[]) => Promise<boolean>;
}

/** The event's size: base64 (4/3) of key and value plus ~200 bytes of envelope per record. */
function approximateBytes(messages: KafkaMessage[]): number {
  let bytes = 0;
  for (const message of messages) bytes += (message.value?.length ?? 0) + (message.key?.length ?? 0) + 200;
  return Math.ceil((bytes * 4) / 3);
}

const partitionKey = (part: BatchPart) => `${part.topic}\u0000${part.partition}`;

/**
 * Lambda's batching and scaling for a Kafka event source mapping: submitted chunks wait in `pending` until
 * batchSize records are there or the oldest has waited maximumBatchingWindow (or flush() was called), then
 * the oldest chunks, up to batchSize records and the 6 MB payload limit, go to `deliver` as ONE event.
 * Up to maxConcurrency events are in flight at once, and a partition is in at most one of them: a chunk
 * waits while an event holding its partition runs (Lambda: one invocation per partition at a time), so each
 * partition is invoked in offset order while different partitions run concurrently. Consecutive chunks of
 * one partition that wait together go into the same event as one part. A chunk's submit() resolves with the
 * outcome of the event holding it.
 */
export class Batcher {
  private readonly options: BatcherOptions;
  private readonly maxConcurrency: number;
  private pending: PendingPart[] = [];
  /** Partitions held by an event in flight. */
  private readonly busy = new Set<string>();
  private inFlight = 0;
  private wake: (() => void) | undefined;
  private flushing = false;
  private closed = false;
  private loop: Promise<void> | undefined;

  constructor(options: BatcherOptions) {
    this.options = options;
    this.maxConcurrency = Math.max(1, options.maxConcurrency ?? 1);
  }

  /** Starts the delivery loop; idempotent. */
  start(): void {
    this.loop ??= this.drain();
  }

  /** Queues a chunk; resolves true once the handler succeeded on the event holding it, false if it gave up. */
  submit(topic: string, partition: number, messages: KafkaMessage[]): Promise<boolean> {
    if (this.closed && this.loop) return Promise.resolve(false);
    return new Promise((settle) => {
      this.pending.push({ topic, partition, messages, bytes: approximateBytes(messages), arrivedAt: Date.now(), settle });
      this.wake?.();
    });
  }

  /** From now on nothing waits for its batching window: what is pending is delivered at once. */
  flush(): void {
    this.flushing = true;
    this.wake?.();
  }

  /** No more submissions: the loop delivers (or gives up on) what is pending and waits for what is in flight, then ends. */
  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    await this.loop;
  }

  /**
   * True while `partition`'s waiting chunks could still take more records before their event goes: a
   * batching window is open and they hold fewer than batchSize records. The poller then lets the consumer
   * fetch more of the partition instead of waiting for the event (KafkaJS fetches again only after every
   * eachBatch call of a fetch returned).
   */
  gathering(topic: string, partition: number): boolean {
    if (this.flushing || this.closed || this.options.maximumBatchingWindowMs <= 0) return false;
    // While an event holds the partition (a slow or failing invocation) its eachBatch waits: backpressure.
    if (this.busy.has(`${topic}\u0000${partition}`)) return false;
    const waiting = this.pending.filter((part) => part.topic === topic && part.partition === partition);
    const first = waiting[0];
    if (!first) return false;
    const count = waiting.reduce((sum, part) => sum + part.messages.length, 0);
    return count < this.options.batchSize && first.arrivedAt + this.options.maximumBatchingWindowMs > Date.now();
  }

  /** Gives back every chunk not yet in an event (a rebalance): each resolves false, nothing of it is committed. */
  withdraw(): number {
    const withdrawn = this.pending;
    this.pending = [];
    for (const part of withdrawn) part.settle(false);
    this.wake?.();
    return withdrawn.length;
  }

  /** Events in flight now (tests and stats). */
  get running(): number {
    return this.inFlight;
  }

  private sleepUntilWoken(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        if (this.wake === done) this.wake = undefined;
        resolve();
      };
      if (ms !== undefined) timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  private async drain(): Promise<void> {
    const { batchSize, maximumBatchingWindowMs } = this.options;
    for (;;) {
      const ready = this.pending.filter((part) => !this.busy.has(partitionKey(part)));
      const oldest = ready[0];
      if (!oldest || this.inFlight >= this.maxConcurrency) {
        if (this.closed && this.pending.length === 0 && this.inFlight === 0) return;
        await this.sleepUntilWoken();
        continue;
      }
      const readyCount = ready.reduce((sum, part) => sum + part.messages.length, 0);
      const windowLeft = oldest.arrivedAt + maximumBatchingWindowMs - Date.now();
      if (readyCount < batchSize && windowLeft > 0 && !this.flushing && !this.closed) {
        await this.sleepUntilWoken(windowLeft);
        continue;
      }
      this.dispatch(this.take(ready));
    }
  }

  /** Invokes one event without waiting for it; its partitions are busy until it settled. */
  private dispatch(chunks: PendingPart[]): void {
    // One part per partition: its consecutive chunks (in offset order, as they arrived) joined.
    const parts = new Map<string, BatchPart>();
    for (const chunk of chunks) {
      const key = partitionKey(chunk);
      const part = parts.get(key);
      if (part) part.messages = [...part.messages, ...chunk.messages];
      else parts.set(key, { topic: chunk.topic, partition: chunk.partition, messages: chunk.messages });
    }
    for (const key of parts.keys()) this.busy.add(key);
    this.inFlight += 1;
    const settle = (delivered: boolean) => {
      for (const key of parts.keys()) this.busy.delete(key);
      this.inFlight -= 1;
      for (const chunk of chunks) chunk.settle(delivered);
      this.wake?.();
    };
    this.options.deliver([...parts.values()]).then(settle, () => settle(false));
  }

  /** The oldest ready chunks, up to batchSize records and the payload limit (at least one chunk). */
  private take(ready: PendingPart[]): PendingPart[] {
    const taken: PendingPart[] = [];
    let count = 0;
    let bytes = 0;
    for (const next of ready) {
      if (taken.length > 0 && (count + next.messages.length > this.options.batchSize || bytes + next.bytes > MAX_PAYLOAD_BYTES))
        break;
      taken.push(next);
      count += next.messages.length;
      bytes += next.bytes;
    }
    const chosen = new Set(taken);
    this.pending = this.pending.filter((part) => !chosen.has(part));
    return taken;
  }
}
