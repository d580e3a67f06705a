import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import {
  CompressionTypes,
  type IHeaders,
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
import { observeProduce } from "../metrics.js";
import { withTimeout } from "../timeout.js";
import { kafka as defaultKafka } from "./client.js";
import { PartitionAssigner } from "./partitions.js";

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

/** Upper bounds for one coalesced send, well below the broker's default 1 MB record batch limit. */
const MAX_MESSAGES_PER_SEND = 2_000;
const MAX_BYTES_PER_SEND = 512 * 1024;

/** One per process and producer (host, pid, random), so two API processes never fence each other. */
export function uniqueTransactionalId(prefix = config.KAFKA_CLIENT_ID): string {
  return `${prefix}-${hostname()}-${process.pid}-${randomBytes(6).toString("hex")}`;
}

export interface CoalescingProducerOptions {
  /**
   * true (the API's): every coalesced send is one Kafka transaction. false: one idempotent send
   * (acks=all), which a failure part-way can leave partly stored; kept as the bench's reference.
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
 * queued -> sending (in a transaction, before its commit) -> committing. A caller whose budget runs out
 * while queued is removed; while sending it is marked abandoned (the transaction aborts); while
 * committing it waits for the commit's outcome.
 */
type PendingState = "queued" | "sending" | "abandoned" | "committing";

/** A caller's messages waiting for a send. */
interface PendingSend {
  topic: string;
  messages: Message[];
  bytes: number;
  state: PendingState;
  /** When the caller's budget runs out (Date.now() ms). */
  deadline: number;
  timer: NodeJS.Timeout;
  /** Resolves (no error) or rejects the caller; only the first call counts. */
  settle: (error?: unknown) => void;
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

const headerBytes = (headers: IHeaders | undefined) =>
  Object.entries(headers ?? {}).reduce((sum, [name, value]) => sum + name.length + String(value ?? "").length, 0);

const sizeOf = (messages: Message[]) =>
  messages.reduce((sum, { key, value, headers }) => sum + (key?.length ?? 0) + (value?.length ?? 0) + headerBytes(headers), 0);

/** The batch's callers with their messages, for PartitionAssigner.split. */
const callersOf = (batch: PendingSend[]) =>
  batch.map((entry) => ({ caller: entry, topic: entry.topic, messages: entry.messages }));

/** The batch's messages, one entry per topic, each topic's messages in the order their callers queued them. */
function byTopic(batch: PendingSend[]): TopicMessages[] {
  const topics = new Map<string, Message[]>();
  for (const { topic, messages } of batch) {
    const list = topics.get(topic);
    if (list) list.push(...messages);
    else topics.set(topic, [...messages]);
  }
  return [...topics].map(([topic, messages]) => ({ topic, messages }));
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
  private readonly queue: PendingSend[] = [];
  private queuedMessages = 0;
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
    return this.queuedMessages;
  }

  /**
   * Produces `messages` to `topic`, all in one send, and resolves once the broker acknowledged them
   * (transactional: committed). Throws ProduceQueueFullError at once when the queue is full, and
   * TransactionLogUnavailableError when Kafka refused or did not answer in time.
   */
  produce(topic: string, messages: Message[], timeoutMs = this.produceTimeoutMs): Promise<void> {
    if (messages.length === 0) return Promise.resolve();
    // Always admitted when nothing waits, so a request larger than the bound is never refused for good.
    if (this.queue.length > 0 && this.queuedMessages + messages.length > this.maxPendingMessages) {
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
      this.queuedMessages += messages.length;
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
      const index = this.queue.indexOf(entry);
      if (index >= 0) this.queue.splice(index, 1);
      this.queuedMessages -= entry.messages.length;
      entry.settle(timedOut); // never sent
    } else if (entry.state === "sending") {
      // Its send sees it abandoned and aborts instead of committing (synchronous: no commit can start in between).
      entry.state = "abandoned";
      entry.settle(timedOut);
    }
    // committing: the sender settles it within commitTimeoutMs.
  }

  /** The next callers' messages, up to the send's bounds; a caller's messages are never split. */
  private take(): PendingSend[] {
    const batch: PendingSend[] = [];
    let count = 0;
    let bytes = 0;
    while (this.queue.length) {
      const next = this.queue[0] as PendingSend;
      if (batch.length && (count + next.messages.length > MAX_MESSAGES_PER_SEND || bytes + next.bytes > MAX_BYTES_PER_SEND))
        break;
      this.queue.shift();
      this.queuedMessages -= next.messages.length;
      next.state = "sending";
      batch.push(next);
      count += next.messages.length;
      bytes += next.bytes;
    }
    return batch;
  }

  /**
   * One send at a time; whatever queues meanwhile goes in the next. (Several transactional producers in
   * parallel, to overlap one's commit markers with the next transaction, measured no faster here.)
   */
  private pump(): void {
    const slot = this.slot;
    if (slot.busy) return;
    const batch = this.take();
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
      const waiting = batch.filter((entry) => entry.state === "sending");
      for (const entry of waiting) entry.state = "queued";
      this.queue.unshift(...waiting);
      this.queuedMessages += waiting.reduce((sum, entry) => sum + entry.messages.length, 0);
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
    // A caller abandoned here may still be stored (at least once): why the API uses transactions.
    for (const entry of batch) entry.settle(failures[0]);
    this.replace(slot, used, sent);
  }
}

function unavailable(error: unknown): TransactionLogUnavailableError {
  if (error instanceof TransactionLogUnavailableError) return error;
  const reason = error instanceof TimeoutError ? error.message : `Kafka did not acknowledge: ${(error as Error).message}`;
  return new TransactionLogUnavailableError(reason, { cause: error });
}

/** The process's producer for several messages at once: transactional, queue bounded by MAX_PENDING_PRODUCE_MESSAGES. */
const processProducer = new CoalescingProducer({
  transactional: true,
  maxPendingMessages: config.MAX_PENDING_PRODUCE_MESSAGES,
});

/**
 * The process's producer for one message at a time (POST /transaction, each dead letter): one record is
 * written or not on its own, so it needs no transaction, and an idempotent send costs one round trip where
 * a transaction costs three (bench stage 7: 50 concurrent single-message callers reach about twice the
 * acks/s without transactions).
 */
const singleMessageProducer = new CoalescingProducer({
  transactional: false,
  maxPendingMessages: config.MAX_PENDING_PRODUCE_MESSAGES,
});

/**
 * Produces messages to `topic` and resolves only once the broker acknowledged them (acks=all). Several
 * messages go in one Kafka transaction (shared with other callers' messages queued at the same time):
 * all committed or none visible to read_committed consumers. Throws ProduceQueueFullError when too many
 * messages wait, TransactionLogUnavailableError when Kafka refused or did not answer in time.
 */
export async function produce(topic: string, messages: Message[]): Promise<void> {
  const started = performance.now();
  try {
    await (messages.length === 1 ? singleMessageProducer : processProducer).produce(topic, messages);
    observeProduce("acked", messages.length, started);
  } catch (error) {
    observeProduce(error instanceof ProduceQueueFullError ? "refused" : "failed", messages.length, started);
    throw error;
  }
}

/** The transactional producer's counters (tests, diagnostics). */
export function producerStats(): Readonly<ProducerStats> {
  return processProducer.stats;
}

/** Disconnects this process's producers (a later produce connects again). */
export async function disconnectProducer(): Promise<void> {
  await Promise.all([processProducer.disconnect(), singleMessageProducer.disconnect()]);
}
