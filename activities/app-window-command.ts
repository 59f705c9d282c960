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
