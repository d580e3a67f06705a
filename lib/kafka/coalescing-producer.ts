import type { Kafka, Message, TopicMessages } from "kafkajs";
import { ProduceQueueFullError, TimeoutError, TransactionLogUnavailableError } from "../errors.js";
import { kafka as defaultKafka } from "./client.js";
import { sendIdempotent } from "./idempotent-send.js";
import { PartitionAssigner } from "./partitions.js";
import { ProducerSlot, uniqueTransactionalId } from "./producer-slot.js";
import { type PendingSend, SendQueue, sizeOf } from "./send-queue.js";
import type { ProducerStats, SendContext, SendStrategy } from "./send-strategy.js";
import { sendInTransaction } from "./transactional-send.js";

export type { ProducerStats } from "./send-strategy.js";

/**
 * A caller's budget until its messages are in a commit request: past it the caller gets 503 and its
 * messages are never committed (dropped from the queue, or their transaction aborted). 3 s keeps the
 * API's answer while Kafka is down under its promised 5 s with room for a busy machine (measured: 4 s
 * answered in 5.2-5.6 s at load average 14-20).
 */
const PRODUCE_TIMEOUT_MS = 3_000;
/**
 * How long a commit request in flight is waited for. A caller whose commit was sent waits for its
 * outcome, so the API answers within PRODUCE_TIMEOUT_MS + COMMIT_TIMEOUT_MS at worst.
 */
const COMMIT_TIMEOUT_MS = 4_000;
/** Retry-After of a refused produce when the queue is full: the queue drains within about a second. */
const QUEUE_FULL_RETRY_AFTER_SECONDS = 1;

export interface CoalescingProducerOptions {
  /**
   * true (several messages a caller): every coalesced send is one Kafka transaction (transactional-send.ts).
   * false (one message a caller, and the bench's reference): idempotent requests per partition (idempotent-send.ts).
   */
  transactional: boolean;
  /** Most messages waiting (not yet in a send); past it produce() throws ProduceQueueFullError. */
  maxPendingMessages: number;
  produceTimeoutMs?: number;
  commitTimeoutMs?: number;
  /** Default: unique to this process and producer (uniqueTransactionalId()). */
  transactionalId?: string;
  kafka?: Kafka;
  /** Called once a transaction's messages are sent, before the commit decision: a seam for tests (a caller timing out there). */
  beforeCommit?: (sent: TopicMessages[]) => Promise<void>;
}

/**
 * The producer of a process. The idempotent KafkaJS producer allows one request in flight per broker,
 * so one send per HTTP request would serialise every request behind the previous round trip. Instead,
 * whatever callers queue while a send is in flight goes out together in the next one (measured,
 * bench/experiments/produce-paths.ts, 50 concurrent callers: 4.2k -> 46k acks/s), and each caller
 * resolves only when the send holding its messages is acknowledged. A caller's messages always travel in
 * one send, so a bulk request is all or nothing when sends are transactions.
 *
 * After any failure the producer is replaced (ProducerSlot): its sequence numbers start afresh (KafkaJS
 * rolls back the sequences of every partition of a failed request, including partitions the broker
 * stored, so reusing it could make the broker drop a later batch as a duplicate).
 */
export class CoalescingProducer {
  readonly transactional: boolean;
  readonly stats: ProducerStats = { committed: 0, abortedAbandoned: 0, failed: 0, replaced: 0, refused: 0 };
  private readonly maxPendingMessages: number;
  private readonly produceTimeoutMs: number;
  private readonly queue = new SendQueue();
  private readonly slot: ProducerSlot;
  private readonly context: SendContext;
  private readonly send: SendStrategy;

  constructor(options: CoalescingProducerOptions) {
    this.transactional = options.transactional;
    this.maxPendingMessages = options.maxPendingMessages;
    this.produceTimeoutMs = options.produceTimeoutMs ?? PRODUCE_TIMEOUT_MS;
    const kafka = options.kafka ?? defaultKafka;
    const partitions = new PartitionAssigner(kafka);
    const transactionalId = options.transactional ? (options.transactionalId ?? uniqueTransactionalId()) : undefined;
    this.slot = new ProducerSlot(kafka, transactionalId, () => {
      this.stats.replaced += 1;
      partitions.forget();
    });
    this.context = {
      slot: this.slot,
      partitions,
      queue: this.queue,
      stats: this.stats,
      commitTimeoutMs: options.commitTimeoutMs ?? COMMIT_TIMEOUT_MS,
      beforeCommit: options.beforeCommit,
    };
    this.send = options.transactional ? sendInTransaction : sendIdempotent;
  }

  /** Messages waiting for a send (not counting the send in flight). */
  get pendingMessages(): number {
    return this.queue.messages;
  }

  get transactionalId(): string | undefined {
    return this.slot.transactionalId;
  }

  /**
   * Produces `messages` to `topic`, all in one send, and resolves once the broker acknowledged them
   * (transactional: committed). Throws ProduceQueueFullError at once when the queue is full, and
   * TransactionLogUnavailableError when Kafka refused or did not answer in time.
   */
  produce(topic: string, messages: Message[], timeoutMs = this.produceTimeoutMs): Promise<void> {
    if (messages.length === 0) return Promise.resolve();
    // Always admitted when nothing waits, so a request larger than the bound is never refused for good.
    if (!this.queue.isEmpty && this.queue.messages + messages.length > this.maxPendingMessages) {
      this.stats.refused += 1;
      return Promise.reject(new ProduceQueueFullError(this.maxPendingMessages, QUEUE_FULL_RETRY_AFTER_SECONDS));
    }
    return new Promise<void>((resolve, reject) => {
      let done = false;
      const entry: PendingSend = {
        topic,
        messages,
        bytes: sizeOf(messages),
        state: "queued",
        deadline: Date.now() + timeoutMs,
        timer: setTimeout(() => this.expire(entry, timeoutMs), timeoutMs),
        settle: (error) => {
          if (done) return;
          done = true;
          clearTimeout(entry.timer);
          if (error === undefined) resolve();
          else reject(unavailable(error));
        },
      };
      this.queue.push(entry);
      this.pump();
    });
  }

  /** Disconnects the producer (a later produce connects again). */
  disconnect(): Promise<void> {
    return this.slot.disconnect();
  }

  /** The caller's budget ran out: 503, unless its commit request is already in flight (then that decides). */
  private expire(entry: PendingSend, timeoutMs: number): void {
    const timedOut = new TimeoutError("producing to Kafka", timeoutMs);
    if (entry.state === "queued") {
      this.queue.remove(entry);
      entry.settle(timedOut); // never sent
    } else if (entry.state === "sending") {
      // Its send sees it abandoned and aborts instead of committing (synchronous: no commit can start in between).
      entry.state = "abandoned";
      entry.settle(timedOut);
    }
    // committing: the sender settles it within commitTimeoutMs.
  }

  /**
   * One send at a time; whatever queues meanwhile goes in the next. (Several transactional producers in
   * parallel, to overlap one's commit markers with the next transaction, measured no faster here.)
   */
  private pump(): void {
    const slot = this.slot;
    if (slot.busy) return;
    const batch = this.queue.take();
    if (!batch.length) return;
    slot.busy = true;
    void this.send(this.context, batch)
      .catch((error: unknown) => {
        for (const entry of batch) entry.settle(error);
      })
      .finally(() => {
        slot.busy = false;
        this.pump();
      });
  }
}

function unavailable(error: unknown): TransactionLogUnavailableError {
  if (error instanceof TransactionLogUnavailableError) return error;
  const reason = error instanceof TimeoutError ? error.message : `Kafka did not acknowledge: ${(error as Error).message}`;
  return new TransactionLogUnavailableError(reason, { cause: error });
}
