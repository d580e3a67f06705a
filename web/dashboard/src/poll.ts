import { useEffect, useRef, useState } from "preact/hooks";

export interface Polled<T> {
  /** The last good answer, kept while later reads fail (show it as stale then). */
  data: T | undefined;
  /** Why the last read failed; undefined once a read succeeds again. */
  error: Error | undefined;
  /** When the last successful answer came (Date.now()). */
  updatedAt: number | undefined;
  /** Whether `data` was read with the current `deps` (false right after a filter changed, until it is read again). */
  current: boolean;
}

/**
 * Calls `read` now and then every `intervalMs` after each answer, while `enabled`; again at once when `deps`
 * change. Never two requests at once: the next one is scheduled only when the last has answered (a slow 503
 * included), and a request of old `deps` is aborted before the new one starts. Errors are kept beside the last
 * good data, so a blip does not blank the page.
 */
export function usePoll<T>(
  read: (signal: AbortSignal) => Promise<T>,
  intervalMs: number,
  deps: unknown[],
  enabled = true,
): Polled<T> {
  const [state, setState] = useState<Polled<T>>({ data: undefined, error: undefined, updatedAt: undefined, current: false });
  const readRef = useRef(read);
  readRef.current = read;
  useEffect(() => {
    if (!enabled) return;
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    setState((previous) => (previous.current ? { ...previous, current: false } : previous));
    const tick = async () => {
      try {
        const data = await readRef.current(controller.signal);
        if (!controller.signal.aborted) setState({ data, error: undefined, updatedAt: Date.now(), current: true });
      } catch (error) {
        if (!controller.signal.aborted) setState((previous) => ({ ...previous, error: error as Error }));
      }
      if (!controller.signal.aborted) timer = setTimeout(tick, intervalMs);
    };
    void tick();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [...deps, enabled, intervalMs]);
  return state;
}
