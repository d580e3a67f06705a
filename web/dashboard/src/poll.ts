import { useEffect, useRef, useState } from "preact/hooks";

export interface Polled<T> {
  data: T | undefined;
  error: Error | undefined;
  /** When the last successful answer came (Date.now()). */
  updatedAt: number | undefined;
}

/**
 * Calls `read` now and then every `intervalMs` after each answer (never two at once), while `enabled`;
 * again at once when `deps` change. Errors are kept beside the last good data, so a blip does not blank the page.
 */
export function usePoll<T>(read: () => Promise<T>, intervalMs: number, deps: unknown[], enabled = true): Polled<T> {
  const [state, setState] = useState<Polled<T>>({ data: undefined, error: undefined, updatedAt: undefined });
  const readRef = useRef(read);
  readRef.current = read;
  useEffect(() => {
    if (!enabled) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      try {
        const data = await readRef.current();
        if (!stopped) setState({ data, error: undefined, updatedAt: Date.now() });
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
