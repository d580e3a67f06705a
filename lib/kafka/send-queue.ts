import type { IHeaders, Message, TopicMessages } from "kafkajs";

/** Upper bounds for one coalesced send, well below the broker's default 1 MB record batch limit. */
const MAX_MESSAGES_PER_SEND = 2_000;
const MAX_BYTES_PER_SEND = 512 * 1024;

/**
 * queued -> sending (in a transaction, before its commit) -> committing. A caller whose budget runs out
 * while queued is removed; while sending it is marked abandoned (the transaction aborts); while
 * committing it waits for the commit's outcome.
 */
export type PendingState = "queued" | "sending" | "abandoned" | "committing";

/** A caller's messages waiting for a send. */
export interface PendingSend {
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

const headerBytes = (headers: IHeaders | undefined) =>
  Object.entries(headers ?? {}).reduce((sum, [name, value]) => sum + name.length + String(value ?? "").length, 0);

export const sizeOf = (messages: Message[]) =>
  messages.reduce((sum, { key, value, headers }) => sum + (key?.length ?? 0) + (value?.length ?? 0) + headerBytes(headers), 0);

/** The batch's callers with their messages, for PartitionAssigner.split. */
export const callersOf = (batch: PendingSend[]) =>
  batch.map((entry) => ({ caller: entry, topic: entry.topic, messages: entry.messages }));

/** The batch's messages, one entry per topic, each topic's messages in the order their callers queued them. */
export function byTopic(batch: PendingSend[]): TopicMessages[] {
  const topics = new Map<string, Message[]>();
  for (const { topic, messages } of batch) {
    const list = topics.get(topic);
    if (list) list.push(...messages);
    else topics.set(topic, [...messages]);
  }
  return [...topics].map(([topic, messages]) => ({ topic, messages }));
}

/** Callers waiting for a send, in the order they came; a caller's messages always travel together. */
export class SendQueue {
  private readonly entries: PendingSend[] = [];
  private count = 0;

  /** Messages waiting (not counting a send in flight). */
  get messages(): number {
    return this.count;
  }

  get isEmpty(): boolean {
    return this.entries.length === 0;
  }

  push(entry: PendingSend): void {
    this.entries.push(entry);
    this.count += entry.messages.length;
  }

  /** Removes a caller that gave up before its send; false when it was no longer waiting. */
  remove(entry: PendingSend): boolean {
    const index = this.entries.indexOf(entry);
    if (index < 0) return false;
    this.entries.splice(index, 1);
    this.count -= entry.messages.length;
    return true;
  }

  /** Puts callers of a send that will not be committed back at the front, in their order, for the next one. */
  requeue(entries: PendingSend[]): void {
    for (const entry of entries) entry.state = "queued";
    this.entries.unshift(...entries);
    this.count += entries.reduce((sum, entry) => sum + entry.messages.length, 0);
  }

  /** The next callers, up to one send's bounds (a caller larger than them goes alone), marked sending. */
  take(): PendingSend[] {
    const batch: PendingSend[] = [];
    let count = 0;
    let bytes = 0;
    while (this.entries.length) {
      const next = this.entries[0] as PendingSend;
      if (batch.length && (count + next.messages.length > MAX_MESSAGES_PER_SEND || bytes + next.bytes > MAX_BYTES_PER_SEND))
        break;
      this.entries.shift();
      this.count -= next.messages.length;
      next.state = "sending";
      batch.push(next);
      count += next.messages.length;
      bytes += next.bytes;
    }
    return batch;
  }
}
