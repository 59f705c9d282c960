/**
 * The session image's command that waits for (or closes) the app's window
 * (images/session/app-window.py), and what its exit codes mean: the Docker runtime runs it by
 * exec, a Kubernetes session pod's startup probe runs it in the pod.
 */

/** What waiting for the app's window found: it is there, or not yet, or not even the X display. */
export type AppWindowWait = 'shown' | 'no-window' | 'no-display';

export const APP_WINDOW_COMMAND = 'hackstream-app-window';

export const APP_WINDOW_EXITS: Record<number, AppWindowWait> = { 0: 'shown', 1: 'no-window', 3: 'no-display' };

/** The command waiting up to `seconds` for a window of `windowClass`. */
export const appWindowWait = (windowClass: string, seconds: number): string[] => [APP_WINDOW_COMMAND, windowClass, String(seconds)];

/** The command asking the app's windows of `windowClass` to close, as a window manager's close button does. */
export const appWindowClose = (windowClass: string): string[] => [APP_WINDOW_COMMAND, '--close', windowClass];

/**
 * Whether a close's exit code means the app is quitting or gone: 0 asked, 1 no such window (the
 * app already quit), 3 no display (nor app) any more; anything else, the close did not run.
 */
export const appWindowCloseDone = (exitCode: number): boolean => exitCode in APP_WINDOW_EXITS;

/**
 * How long an app that was asked to close its windows runs on before it is asked again. One close
 * is not always the last word: a close that found no window while the app still ran (1), or one
 * the app let pass, would otherwise leave it running until the quit's bound, and what it had not
 * saved would be lost with its container.
 */
export const CLOSE_AGAIN_MS = 5_000;

/**
 * Asks the app to quit as a user closing its windows does, and again every `againMs` while it
 * still runs, for up to `seconds` in all. `close` runs the close command in the session and gives
 * its exit code (-1 when it could not run); `ended` settles once the app has ended (true), or
 * when that can no longer be watched (false). True once the app has ended; false when it still
 * ran after `seconds`, or the first close could not run.
 */
export async function quitByClosingWindows(close: () => Promise<number>, ended: Promise<boolean>, seconds: number, againMs = CLOSE_AGAIN_MS): Promise<boolean> {
  const deadline = Date.now() + seconds * 1000;
  let settled: boolean | null = null;
  void ended.then((value) => (settled = value));
  const endedWithin = (ms: number) =>
    Promise.race([ended, new Promise<boolean>((resolve) => setTimeout(resolve, Math.max(0, ms), false).unref())]);
  for (let asked = 0; ; asked++) {
    if (!appWindowCloseDone(await close())) {
      // A later close finds no session when the app ended in between: the watch says which.
      return asked === 0 ? false : endedWithin(deadline - Date.now());
    }
    if (await endedWithin(Math.min(againMs, deadline - Date.now()))) return true;
    if (settled === false || Date.now() >= deadline) return false;
  }
}
