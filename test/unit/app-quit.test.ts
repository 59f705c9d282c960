/**
 * quitByClosingWindows (activities/app-window-command.ts): how a persistent session's app is asked
 * to quit before its container goes, with a fake close command and a fake "ended" watch.
 */
import { describe, expect, it } from 'vitest';
import { quitByClosingWindows } from '../../activities/app-window-command.js';

/** An app that ends `afterCloses` closes after it was asked (never if null); its closes answer `exitCodes` in turn (then 0). */
function fakeApp(afterCloses: number | null, exitCodes: number[] = []) {
  let closes = 0;
  let end!: (value: boolean) => void;
  const ended = new Promise<boolean>((resolve) => (end = resolve));
  const close = async () => {
    closes++;
    const exitCode = exitCodes[closes - 1] ?? 0;
    if (exitCode === 0 && afterCloses !== null && closes >= afterCloses) setTimeout(() => end(true), 5);
    return exitCode;
  };
  return { close, ended, end, closes: () => closes };
}

describe('quitByClosingWindows', () => {
  it('is done once an app asked once has ended', async () => {
    const app = fakeApp(1);
    expect(await quitByClosingWindows(app.close, app.ended, 2, 200)).toBe(true);
    expect(app.closes()).toBe(1);
  });

  it('asks again an app that let the first close pass, or whose window was not there yet', async () => {
    const passed = fakeApp(3);
    expect(await quitByClosingWindows(passed.close, passed.ended, 2, 50)).toBe(true);
    expect(passed.closes()).toBe(3);
    // 1: no window of its class (yet), while the app still runs.
    const noWindowYet = fakeApp(2, [1]);
    expect(await quitByClosingWindows(noWindowYet.close, noWindowYet.ended, 2, 50)).toBe(true);
    expect(noWindowYet.closes()).toBe(2);
  });

  it('gives up after its bound with the app still running, having asked every interval', async () => {
    const app = fakeApp(null);
    const started = Date.now();
    expect(await quitByClosingWindows(app.close, app.ended, 0.3, 50)).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(app.closes()).toBeGreaterThanOrEqual(4);
  });

  it('is not done when the first close cannot run; a later one that cannot (the session just ended) waits for the watch', async () => {
    const unreachable = fakeApp(1, [-1]);
    expect(await quitByClosingWindows(unreachable.close, unreachable.ended, 1, 50)).toBe(false);
    expect(unreachable.closes()).toBe(1);

    const gone = fakeApp(null, [0, -1]);
    const quitting = quitByClosingWindows(gone.close, gone.ended, 2, 50);
    setTimeout(() => gone.end(true), 120);
    expect(await quitting).toBe(true);
    expect(gone.closes()).toBe(2);
  });

  it('stops asking once the end can no longer be watched', async () => {
    const app = fakeApp(null);
    setTimeout(() => app.end(false), 20);
    expect(await quitByClosingWindows(app.close, app.ended, 2, 50)).toBe(false);
    expect(app.closes()).toBe(1);
  });
});
