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
 * Calls `read` now and then every `intervalMs` after each answer, while `enabled`; again when `deps` change.
 * Never two requests at once: the next is scheduled only once the last has answered (a slow 503 included), and
 * after a change of `deps` the new read waits for a read still in flight rather than doubling the load on a
 * struggling server (aborting it would not stop the server's query). Errors are kept beside the last good
 * data, so a blip does not blank the page.
 */
export function usePoll<T>(read: () => Promise<T>, intervalMs: number, deps: unknown[], enabled = true): Polled<T> {
  const [state, setState] = useState<Polled<T>>({ data: undefined, error: undefined, updatedAt: undefined, current: false });
  const readRef = useRef(read);
  readRef.current = read;
  const inFlight = useRef<Promise<unknown>>(Promise.resolve());
  useEffect(() => {
    if (!enabled) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    setState((previous) => (previous.current ? { ...previous, current: false } : previous));
    const tick = async () => {
      await inFlight.current;
      if (stopped) return;
      const request = readRef.current();
      inFlight.current = request.catch(() => undefined);
      try {
        const data = await request;
        if (!stopped) setState({ data, error: undefined, updatedAt: Date.now(), current: true });
      } catch (error) {
        if (!stopped) setState((previous) => ({ ...previous, error: error as Error }));
      }
      if (!stopped) timer = setTimeout(tick, intervalMs);
    };
    void tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [...deps, enabled, intervalMs]);
  return state;
}
