/** Reloading data on an interval, only while the page is visible: hidden tabs cost the server nothing. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { errorMessage, get } from './api';

/**
 * Runs `load` now, then every `intervalMs` after each run ends (runs never overlap), pausing while
 * the document is hidden and catching up as soon as it is visible again. `deps` restart it; `load`
 * gets `current()`, false once a newer restart began, so a slow answer never overwrites a newer one.
 * Returns a function that reloads at once (after an action changed the data).
 */
export function usePolling(load: (current: () => boolean) => Promise<void>, intervalMs: number, deps: readonly unknown[]): () => void {
  const latest = useRef(load);
  latest.current = load;
  const reload = useRef<() => void>(() => undefined);

  useEffect(() => {
    let stopped = false;
    let running = false;
    let again = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const visible = () => document.visibilityState === 'visible';

    const tick = async (): Promise<void> => {
      clearTimeout(timer);
      if (stopped) return;
      if (running) {
        again = true;
        return;
      }
      if (visible()) {
        running = true;
        try {
          await latest.current(() => !stopped);
        } catch {
          // load shows its own errors; the next tick tries again.
        } finally {
          running = false;
        }
      }
      if (stopped) return;
      if (again) {
        again = false;
        void tick();
      } else if (visible()) {
        timer = setTimeout(() => void tick(), intervalMs);
      }
    };
    const onVisibility = () => {
      if (visible()) void tick();
      else clearTimeout(timer);
    };

    reload.current = () => void tick();
    document.addEventListener('visibilitychange', onVisibility);
    void tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisibility);
    };
  }, [intervalMs, ...deps]);

  return () => reload.current();
}

export interface Polled<T> {
  /** The latest answer (null until the first). */
  data: T | null;
  /** Why the latest try failed; null once one succeeds. */
  error: string | null;
  /** When the latest answer came (ISO time). */
  loadedAt: string | null;
  reload: () => void;
}

/** `GET path` polled with usePolling: its latest answer, or why the latest try failed. */
export function usePolledGet<T>(path: string, intervalMs: number): Polled<T> {
  const [state, setState] = useState<Omit<Polled<T>, 'reload'>>({ data: null, error: null, loadedAt: null });
  const reload = usePolling(
    async (current) => {
      try {
        const data = await get<T>(path);
        if (current()) setState({ data, error: null, loadedAt: new Date().toISOString() });
      } catch (err) {
        if (current()) setState((s) => ({ ...s, error: errorMessage(err) }));
      }
    },
    intervalMs,
    [path],
  );
  return { ...state, reload };
}
