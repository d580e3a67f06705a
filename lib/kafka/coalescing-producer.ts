import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import {
  CompressionTypes,
  type Kafka,
  type Message,
  Partitioners,
  type Producer,
  type TopicMessages,
  type Transaction,
} from "kafkajs";
import { config } from "../config.js";
import { ProduceQueueFullError, TimeoutError, TransactionLogUnavailableError } from "../errors.js";
import { logger } from "../logger.js";
import { withTimeout } from "../timeout.js";
import { kafka as defaultKafka } from "./client.js";
import { PartitionAssigner } from "./partitions.js";
import { byTopic, callersOf, type PendingSend, SendQueue, sizeOf } from "./send-queue.js";

const log = logger.child({ component: "producer" });

/**
 * A caller's budget until its messages are in a commit request: past it the caller gets 503 and its
 * messages are never committed (dropped from the queue, or their transaction aborted). 3 s keeps the
 * API's answer while Kafka is down under its promised 5 s with room for a busy machine (measured: 4 s
 * answered in 5.2-5.6 s at load average 14-20).
 */
export const PRODUCE_TIMEOUT_MS = 3_000;
/**
 * How long a commit request in flight is waited for. A caller whose commit was sent waits for its
 * outcome, so the API answers within PRODUCE_TIMEOUT_MS + COMMIT_TIMEOUT_MS at worst.
 */
export const COMMIT_TIMEOUT_MS = 4_000;
/** How long an abort request is waited for before the producer is replaced (which aborts too). */
const ABORT_TIMEOUT_MS = 2_000;
/**
 * The broker aborts a transaction left open this long (its producer died between send and commit);
 * until then read_committed consumers of its partitions wait at it. Ours last < 10 s.
 */
export const TRANSACTION_TIMEOUT_MS = 15_000;
/** Retry-After of a refused produce when the queue is full: the queue drains within about a second. */
export const QUEUE_FULL_RETRY_AFTER_SECONDS = 1;

/** One per process and producer (host, pid, random), so two API processes never fence each other. */
export function uniqueTransactionalId(prefix = config.KAFKA_CLIENT_ID): string {
  return `${prefix}-${hostname()}-${process.pid}-${randomBytes(6).toString("hex")}`;
}

export interface CoalescingProducerOptions {
  /**
   * true (several messages a caller): every coalesced send is one Kafka transaction. false (one message a
   * caller, and the bench's reference): idempotent acks=all requests, each caller answered by its own
   * partition's outcome, so a failure part-way leaves some callers stored and the others refused.
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

/** The producer (replaced after a failure, keeping its transactionalId) and whether a send is in flight. */
interface ProducerSlot {
  transactionalId: string | undefined;
  producer: Promise<Producer> | undefined;
  busy: boolean;
}

export interface ProducerStats {
  /** Sends acknowledged: transactions committed, or idempotent sends acked. */
  committed: number;
  /** Transactions aborted because a caller stopped waiting before the commit. */
  abortedAbandoned: number;
  /** Sends that failed (every caller of them got TransactionLogUnavailableError). */
  failed: number;
  /** Producers replaced after a failure (a new one fences the old and aborts its open transaction). */
  replaced: number;
  /** produce() calls refused because the queue was full. */
  refused: number;
}

const settled = (promise: Promise<unknown>) =>
  promise.then(
    () => {},
    () => {},
  );

/**
 * The producer of a process. The idempotent KafkaJS producer allows one request in flight per broker,
 * so one send per HTTP request would serialise every request behind the previous round trip. Instead,
 * whatever callers queue while a send is in flight goes out together in the next one (measured,
 * bench/experiments/produce-paths.ts, 50 concurrent callers: 4.2k -> 46k acks/s), and each caller
 * resolves only when the send holding its messages is acknowledged.
 *
 * Transactional (the API's): each coalesced send is one Kafka transaction (acks=all, idempotent), so it
 * is stored whole or not at all for read_committed consumers. Commit -> every caller of the send
 * resolves; abort or failure -> every one gets TransactionLogUnavailableError and none of its messages
 * is ever visible. A caller's messages always travel in one send, so a bulk request is all or nothing.
 *
 * Timeouts: until its messages are in a commit request, a caller that runs out of budget (503) is
 * abandoned: dropped from the queue, or its transaction aborted (the others of that send are queued
 * again, in a new transaction). Once the commit request is sent, its outcome decides, waited for at most
 * COMMIT_TIMEOUT_MS; the one case where 503 does not mean "not stored" is a commit sent whose answer
 * never came (broker or network gone at that moment): the broker may have committed it.
 *
 * After any failure the producer is replaced: the new one (same transactionalId) bumps the epoch, which
 * fences the old one and aborts a transaction it left open. Its sequence numbers start afresh too (KafkaJS
 * rolls back the sequences of every partition of a failed request, including partitions the broker
 * stored, so reusing it could make the broker drop a later batch as a duplicate).
 */
export class CoalescingProducer {
  readonly transactional: boolean;
  readonly stats: ProducerStats = { committed: 0, abortedAbandoned: 0, failed: 0, replaced: 0, refused: 0 };
  private readonly maxPendingMessages: number;
  private readonly produceTimeoutMs: number;
  private readonly commitTimeoutMs: number;
  private readonly kafka: Kafka;
  private readonly beforeCommit: CoalescingProducerOptions["beforeCommit"];
  private readonly queue = new SendQueue();
  private readonly slot: ProducerSlot;
  private readonly partitions: PartitionAssigner;

  constructor(options: CoalescingProducerOptions) {
    this.transactional = options.transactional;
    this.slot = {
      transactionalId: options.transactional ? (options.transactionalId ?? uniqueTransactionalId()) : undefined,
      producer: undefined,
      busy: false,
    };
    this.maxPendingMessages = options.maxPendingMessages;
    this.produceTimeoutMs = options.produceTimeoutMs ?? PRODUCE_TIMEOUT_MS;
    this.commitTimeoutMs = options.commitTimeoutMs ?? COMMIT_TIMEOUT_MS;
    this.kafka = options.kafka ?? defaultKafka;
    this.beforeCommit = options.beforeCommit;
    this.partitions = new PartitionAssigner(this.kafka);
  }

  /** Messages waiting for a send (not counting the send in flight). */
  get pendingMessages(): number {
    return this.queue.messages;
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

  get transactionalId(): string | undefined {
    return this.slot.transactionalId;
  }

  /** Disconnects the producer (a later produce connects again). */
  async disconnect(): Promise<void> {
    const current = this.slot.producer;
    this.slot.producer = undefined;
    await current?.then((producer) => producer.disconnect()).catch(() => {});
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
    void (this.transactional ? this.sendInTransaction(slot, batch) : this.sendIdempotent(slot, batch))
      .catch((error: unknown) => {
        for (const entry of batch) entry.settle(error);
      })
      .finally(() => {
        slot.busy = false;
        this.pump();
      });
  }

  private connected(slot: ProducerSlot): Promise<Producer> {
    if (!slot.producer) {
      slot.producer = this.connect(slot);
      // A send may give up (budget, metadata) before it awaits the connection; its failure must not go unhandled.
      slot.producer.catch(() => {});
    }
    return slot.producer;
  }

  private async connect(slot: ProducerSlot): Promise<Producer> {
    const created = this.kafka.producer({
      ...(this.transactional
        ? {
            transactionalId: slot.transactionalId,
            transactionTimeout: TRANSACTION_TIMEOUT_MS,
            // KafkaJS sends a transaction's messages idempotently whatever this flag says (transaction()
            // builds its sender with idempotent: true). The flag only configures the plain send, unused
            // here; set, it would also make KafkaJS retry a failed request forever (retries default to
            // MAX_SAFE_INTEGER), leaving a replaced producer retrying while the broker is down.
            idempotent: false,
          }
        : { idempotent: true }),
      maxInFlightRequests: 1,
      // Short first retries: the next transaction of a producer is refused (CONCURRENT_TRANSACTIONS) for
      // the few ms the coordinator takes to write the previous one's commit markers; KafkaJS's 100 ms
      // cost 96% of the acks at 10 callers. 10, 20, 40 ... 1,000 ms: ~2.3 s in all, within a caller's budget.
      retry: { initialRetryTime: 10, maxRetryTime: 1_000, retries: 8 },
      allowAutoTopicCreation: false,
      // Murmur2 on the key, as the Java client partitions: nameOrig -> one partition, in order.
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    try {
      await created.connect();
      return created;
    } catch (error) {
      await created.disconnect().catch(() => {});
      throw error;
    }
  }

  /**
   * Drops `used` as this process's producer; it is disconnected once `inFlight` (its last request) settled.
   * The next send connects a new one with the same transactionalId: its InitProducerId bumps the epoch,
   * fencing the old producer and aborting a transaction it left open.
   */
  private replace(slot: ProducerSlot, used: Promise<Producer>, inFlight: Promise<unknown>): void {
    if (slot.producer === used) slot.producer = undefined;
    this.stats.replaced += 1;
    this.partitions.forget();
    void settled(inFlight).then(() => used.then((producer) => producer.disconnect()).catch(() => {}));
  }

  /** The time left until the last caller of `batch` gives up (at least 1 ms). */
  private budgetOf(batch: PendingSend[]): number {
    return Math.max(1, Math.max(...batch.map((entry) => entry.deadline)) - Date.now());
  }

  private async sendInTransaction(slot: ProducerSlot, batch: PendingSend[]): Promise<void> {
    const used = this.connected(slot);
    const opened: { transaction?: Transaction } = {};
    const sent = (async () => {
      const producer = await used;
      const partitions = await this.partitions.split(callersOf(batch));
      // The producer's first transaction() also gets its producer id and epoch (InitProducerId).
      const transaction = await producer.transaction();
      opened.transaction = transaction;
      // One partition after another: each send first adds its partition to the transaction, and the
      // coordinator refuses a second AddPartitionsToTxn while the first is being written (CONCURRENT_TRANSACTIONS).
      for (const { topic, messages } of partitions) {
        await transaction.sendBatch({ topicMessages: [{ topic, messages }], acks: -1, compression: CompressionTypes.None });
      }
      return transaction;
    })();
    let transaction: Transaction;
    try {
      // Past the last caller's budget nobody waits for this send any more.
      transaction = await withTimeout(sent, this.budgetOf(batch), "producing to Kafka");
    } catch (error) {
      this.stats.failed += 1;
      log.warn(
        { err: error, callers: batch.length, transactionalId: slot.transactionalId },
        "transaction failed before its commit; aborting it",
      );
      for (const entry of batch) entry.settle(error);
      if (error instanceof TimeoutError) {
        // Still in flight: no abort racing it; the successor's InitProducerId fences it and aborts the transaction.
        this.replace(slot, used, sent);
      } else {
        // Refused (e.g. a record batch too large): abort now so consumers need not wait for the successor.
        const { request } = await this.abort(slot, opened.transaction);
        this.replace(slot, used, request);
      }
      return;
    }
    await this.beforeCommit?.(byTopic(batch));
    if (batch.some((entry) => entry.state === "abandoned")) {
      // A caller was told 503 before the commit: abort, and queue the others again for a new transaction.
      this.queue.requeue(batch.filter((entry) => entry.state === "sending"));
      this.stats.abortedAbandoned += 1;
      const { aborted, request } = await this.abort(slot, transaction);
      if (!aborted) this.replace(slot, used, request);
      return;
    }
    // From here on the commit's outcome decides for every caller of the send.
    for (const entry of batch) entry.state = "committing";
    const commit = transaction.commit();
    try {
      await withTimeout(commit, this.commitTimeoutMs, "committing the Kafka transaction");
      this.stats.committed += 1;
      for (const entry of batch) entry.settle();
    } catch (error) {
      this.stats.failed += 1;
      const unknownOutcome = error instanceof TimeoutError;
      log.error(
        {
          err: error,
          callers: batch.length,
          topics: byTopic(batch).map(({ topic, messages }) => ({ topic, count: messages.length })),
          transactionalId: slot.transactionalId,
          unknownOutcome,
        },
        unknownOutcome
          ? "commit not answered in time: its callers got 503, yet the broker may have committed it"
          : "commit refused: the transaction is aborted",
      );
      for (const entry of batch) entry.settle(error);
      this.replace(slot, used, commit);
    }
  }

  /** Aborts `transaction` if it is open, waiting at most ABORT_TIMEOUT_MS; `request` settles when the broker answered. */
  private async abort(
    slot: ProducerSlot,
    transaction: Transaction | undefined,
  ): Promise<{ aborted: boolean; request: Promise<unknown> }> {
    if (!transaction?.isActive()) return { aborted: false, request: Promise.resolve() };
    const request = transaction.abort();
    try {
      await withTimeout(request, ABORT_TIMEOUT_MS, "aborting the Kafka transaction");
      return { aborted: true, request };
    } catch (error) {
      log.warn({ err: error, transactionalId: slot.transactionalId }, "abort failed; the next producer aborts it");
      return { aborted: false, request };
    }
  }

  /**
   * One idempotent request per partition, all at once (KafkaJS queues those for one broker behind each
   * other). A caller resolves as soon as every partition holding its messages is acknowledged; the callers
   * of a partition that failed or ran out of budget get the error. Any failure replaces the producer.
   */
  private async sendIdempotent(slot: ProducerSlot, batch: PendingSend[]): Promise<void> {
    const used = this.connected(slot);
    const failures: unknown[] = [];
    const sent = (async () => {
      const producer = await used;
      const partitions = await this.partitions.split(callersOf(batch));
      const waitingFor = new Map(batch.map((entry) => [entry, 0]));
      for (const { callers } of partitions) for (const entry of callers) waitingFor.set(entry, (waitingFor.get(entry) ?? 0) + 1);
      await Promise.all(
        partitions.map(async ({ topic, messages, callers }) => {
          try {
            await producer.sendBatch({ topicMessages: [{ topic, messages }], acks: -1, compression: CompressionTypes.None });
          } catch (error) {
            failures.push(error);
            for (const entry of callers) entry.settle(error);
            return;
          }
          for (const entry of callers) {
            const left = (waitingFor.get(entry) ?? 1) - 1;
            waitingFor.set(entry, left);
            if (left === 0) entry.settle();
          }
        }),
      );
    })();
    try {
      await withTimeout(sent, this.budgetOf(batch), "producing to Kafka");
    } catch (error) {
      failures.push(error);
    }
    if (failures.length === 0) {
      this.stats.committed += 1;
      return;
    }
    this.stats.failed += 1;
    // A caller answered 503 here may still be stored: its request may have reached the broker (README).
    for (const entry of batch) entry.settle(failures[0]);
    this.replace(slot, used, sent);
  }
}

function unavailable(error: unknown): TransactionLogUnavailableError {
  if (error instanceof TransactionLogUnavailableError) return error;
  const reason = error instanceof TimeoutError ? error.message : `Kafka did not acknowledge: ${(error as Error).message}`;
  return new TransactionLogUnavailableError(reason, { cause: error });
}
