/** Reloading data on an interval, only while the page is visible: hidden tabs cost the server nothing. */
import { useEffect, useRef } from 'preact/hooks';

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
