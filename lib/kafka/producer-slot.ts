import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { type Kafka, Partitioners, type Producer } from "kafkajs";
import { config } from "../config.js";

/**
 * The broker aborts a transaction left open this long (its producer died between send and commit);
 * until then read_committed consumers of its partitions wait at it. Ours last < 10 s.
 */
export const TRANSACTION_TIMEOUT_MS = 15_000;

/** One per process and producer (host, pid, random), so two API processes never fence each other. */
export function uniqueTransactionalId(prefix = config.KAFKA_CLIENT_ID): string {
  return `${prefix}-${hostname()}-${process.pid}-${randomBytes(6).toString("hex")}`;
}

const settled = (promise: Promise<unknown>) =>
  promise.then(
    () => {},
    () => {},
  );

/**
 * The one KafkaJS producer a CoalescingProducer sends with, connected on first use and replaced after a
 * failure. A transactional slot keeps its transactionalId across replacements: the successor's
 * InitProducerId bumps the epoch, fencing the old producer and aborting a transaction it left open.
 */
export class ProducerSlot {
  /** A send is in flight (one at a time). */
  busy = false;
  private current: Promise<Producer> | undefined;

  constructor(
    private readonly kafka: Kafka,
    /** Set: every send is a Kafka transaction; unset: idempotent sends. */
    readonly transactionalId: string | undefined,
    /** Called at each replacement (counters, cached partition metadata). */
    private readonly onReplace: () => void,
  ) {}

  connected(): Promise<Producer> {
    if (!this.current) {
      this.current = this.connect();
      // A send may give up (budget, metadata) before it awaits the connection; its failure must not go unhandled.
      this.current.catch(() => {});
    }
    return this.current;
  }

  /**
   * Drops `used` as the slot's producer; it is disconnected once `inFlight` (its last request) settled.
   * The next send connects a new one.
   */
  replace(used: Promise<Producer>, inFlight: Promise<unknown>): void {
    if (this.current === used) this.current = undefined;
    this.onReplace();
    void settled(inFlight).then(() => used.then((producer) => producer.disconnect()).catch(() => {}));
  }

  /** Disconnects the producer (a later send connects again). */
  async disconnect(): Promise<void> {
    const current = this.current;
    this.current = undefined;
    await current?.then((producer) => producer.disconnect()).catch(() => {});
  }

  private async connect(): Promise<Producer> {
    const created = this.kafka.producer({
      ...(this.transactionalId !== undefined
        ? {
            transactionalId: this.transactionalId,
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
}
