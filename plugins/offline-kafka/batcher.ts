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
  /** Invokes the function with one event of these parts: true once it succeeded, false when it gave up (stopping). */
  deliver: (parts: BatchPart[]) => Promise<boolean>;
}

/** The event's size: base64 (4/3) of key and value plus ~200 bytes of envelope per record. */
function approximateBytes(messages: KafkaMessage[]): number {
  let bytes = 0;
  for (const message of messages) bytes += (message.value?.length ?? 0) + (message.key?.length ?? 0) + 200;
  return Math.ceil((bytes * 4) / 3);
}

/**
 * Lambda's batching for a Kafka event source mapping: submitted chunks wait in `pending` until batchSize
 * records are there or the oldest has waited maximumBatchingWindow (or flush() was called), then the
 * oldest chunks, up to batchSize records and the 6 MB payload limit, go to `deliver` as ONE event.
 * Deliveries are serialised; a chunk's submit() resolves with the outcome of the event holding it.
 */
export class Batcher {
  private readonly options: BatcherOptions;
  private pending: PendingPart[] = [];
  private pendingCount = 0;
  private wake: (() => void) | undefined;
  private flushing = false;
  private closed = false;
  private loop: Promise<void> | undefined;

  constructor(options: BatcherOptions) {
    this.options = options;
  }

  /** Starts the delivery loop; idempotent. */
  start(): void {
    this.loop ??= this.drain();
  }

  /** Queues a chunk; resolves true once the handler succeeded on the event holding it, false if it gave up. */
  submit(topic: string, partition: number, messages: KafkaMessage[]): Promise<boolean> {
    return new Promise((settle) => {
      this.pending.push({ topic, partition, messages, bytes: approximateBytes(messages), arrivedAt: Date.now(), settle });
      this.pendingCount += messages.length;
      this.wake?.();
    });
  }

  /** From now on nothing waits for its batching window: what is pending is delivered at once. */
  flush(): void {
    this.flushing = true;
    this.wake?.();
  }

  /** No more submissions: the loop delivers (or gives up on) what is pending, then ends. */
  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    await this.loop;
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
    const { batchSize, maximumBatchingWindowMs, deliver } = this.options;
    for (;;) {
      const oldest = this.pending[0];
      if (!oldest) {
        if (this.closed) return;
        await this.sleepUntilWoken();
        continue;
      }
      const windowLeft = oldest.arrivedAt + maximumBatchingWindowMs - Date.now();
      if (this.pendingCount < batchSize && windowLeft > 0 && !this.flushing) {
        await this.sleepUntilWoken(windowLeft);
        continue;
      }
      const parts = this.take();
      const delivered = await deliver(parts);
      for (const part of parts) part.settle(delivered);
    }
  }

  /** The oldest pending chunks, up to batchSize records and the payload limit (at least one chunk). */
  private take(): PendingPart[] {
    const taken: PendingPart[] = [];
    let count = 0;
    let bytes = 0;
    for (const next of this.pending) {
      if (taken.length > 0 && (count + next.messages.length > this.options.batchSize || bytes + next.bytes > MAX_PAYLOAD_BYTES))
        break;
      taken.push(next);
      count += next.messages.length;
      bytes += next.bytes;
    }
    this.pending = this.pending.slice(taken.length);
    this.pendingCount -= count;
    return taken;
  }
}
