import { useRef } from "preact/hooks";

export const clock = (at: number | string) => new Date(at).toLocaleTimeString("en-GB", { hour12: false });

/**
 * A part of a panel that cannot be read now: what, the server's reason (a SQLSTATE, a timeout), and how old
 * the data still shown beneath it is, so an outage never looks like an empty table or a quiet pipeline.
 */
export function Unavailable({
  testId,
  what,
  reason,
  shownFrom,
}: {
  testId: string;
  what: string;
  reason: string;
  /** When the data still shown was read; undefined when nothing is shown. */
  shownFrom?: number | undefined;
}) {
  return (
    <div class="unavailable" role="status" data-testid={testId}>
      <strong>{what} unavailable</strong> <span class="reason">{reason}</span>
      <span class="since">{shownFrom ? ` · showing data from ${clock(shownFrom)}` : " · nothing read yet"}</span>
    </div>
  );
}

/** The last value of a part that could be read, and when: kept while later answers cannot read it. */
export function useLastGood<T>(
  value: T | null | undefined,
  at: number | undefined,
): { value: T | undefined; at: number | undefined } {
  const last = useRef<{ value: T | undefined; at: number | undefined }>({ value: undefined, at: undefined });
  if (value !== null && value !== undefined && last.current.value !== value) last.current = { value, at };
  return last.current;
}
