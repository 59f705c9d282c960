/**
 * The browser path on a phone: Chromium emulating one (its viewport, device pixel ratio, touch
 * events and mobile user agent) opens a session's link. The app's window fits the phone's screen,
 * a tap reaches the app as a click, a swipe scrolls the page in it, and text arrives, typed on keys
 * and committed by an on-screen keyboard (text input without key events). The
 * remote page reports each in its title, which xpra shows in the window's header.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { devices } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startApiUnderTest, type ApiUnderTest } from '../support/api-under-test.js';
import { launchChromium, openSessionWindow, type TestBrowser } from '../support/browser.js';
import { serveOutside } from '../support/outside-world.js';
import { PAGE_COLOUR } from '../support/test-page.js';
import { windowFillsTab, windowShows, windowTitled } from '../support/xpra-page.js';

const PHONE = devices['Pixel 7'];

/**
 * A long page: a tap anywhere focuses its text field and says so, scrolling says how far (until
 * something is typed: typing scrolls the field back into view, and that scroll, which can end
 * after the last key, must not take the title from what was typed), and what is typed into the
 * field shows as it is typed.
 */
const PAGE = `<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>phone ready</title></head><body style="margin:0;font:20px sans-serif">
<input id="field" style="width:90%;font-size:20px" autocomplete="off">
<div style="height:6000px;background:rgb(${PAGE_COLOUR.r},${PAGE_COLOUR.g},${PAGE_COLOUR.b})"></div>
<script>
const field = document.getElementById('field');
document.addEventListener('click', () => { field.focus(); document.title = 'phone tapped'; });
addEventListener('scroll', () => { if (!field.value) document.title = 'phone scrolled ' + Math.round(scrollY); });
field.addEventListener('input', () => { document.title = 'phone typed ' + field.value; });
</script></body></html>`;

let t: ApiUnderTest;
let chromium: TestBrowser;
let browser: Browser;
let site: { url: string; close(): Promise<void> };

beforeAll(async () => {
  t = await startApiUnderTest();
  chromium = await launchChromium({ trustCaFile: inject('stack').caFile });
  browser = chromium.browser;
  site = await serveOutside(inject('stack').outside, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(PAGE);
  });
});

afterAll(async () => {
  await site?.close();
  await chromium?.close();
  await t?.close();
});

/** The streamed window's canvas: where on the phone's screen the app is. */
async function appCanvas(tab: Page): Promise<{ x: number; y: number; width: number; height: number }> {
  const boxes = await Promise.all((await tab.$$('#screen canvas')).map((c) => c.boundingBox()));
  const largest = boxes.filter((b) => b !== null).sort((a, b) => b.width * b.height - a.width * a.height)[0];
  if (!largest) throw new Error('no window canvas on the page');
  return largest;
}

/** A swipe upwards from (x, y0) to (x, y1) as touch events (what a finger on the screen sends). */
async function swipe(context: BrowserContext, tab: Page, x: number, y0: number, y1: number): Promise<void> {
  const cdp = await context.newCDPSession(tab);
  const steps = 12;
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [{ x, y: y0 }] });
  for (let i = 1; i <= steps; i++) {
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: [{ x, y: y0 + ((y1 - y0) * i) / steps }] });
    await new Promise((r) => setTimeout(r, 16));
  }
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
  await cdp.detach();
}

describe('a session on a phone (Chromium mobile emulation)', () => {
  it('fits the screen, and a tap, a swipe and typed text reach the app', async () => {
    const user = await t.newUser();
    const created = await t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox', url: site.url } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.session_id as string;
    const context = await browser.newContext({ ...PHONE });
    try {
      const tab = await context.newPage();
      // Shown, its pixels painted (xpra 3.1's client, laid out narrower than about 650 px, stops
      // painting a window after its first updates: images/session/bundle-html5-client.py).
      await openSessionWindow(tab, created.body.connect.browser.url, { check: windowShows, arg: { title: 'phone ready', colour: PAGE_COLOUR } });
      // The phone (412 px wide) shows the page laid out 720 px wide, scaled to fit its screen.
      const shown = await tab.evaluate<{ w: number; touch: boolean }>('({ w: window.innerWidth, touch: navigator.maxTouchPoints > 0 })');
      expect(shown.touch).toBe(true);
      expect(shown.w).toBeGreaterThanOrEqual(720);
      expect(shown.w).toBeLessThan(730);
      // The client sized the remote screen for the page: the window fills it, nothing off-screen.
      await tab.waitForFunction(windowFillsTab, undefined, { timeout: 15_000, polling: 250 });

      const box = await appCanvas(tab);
      const [cx, cy] = [box.x + box.width / 2, box.y + box.height * 0.6];
      await tab.touchscreen.tap(cx, cy);
      await tab.waitForFunction(windowTitled, 'phone tapped', { timeout: 15_000, polling: 250 });

      await swipe(context, tab, cx, box.y + box.height * 0.8, box.y + box.height * 0.3);
      await tab.waitForFunction(windowTitled, 'phone scrolled', { timeout: 15_000, polling: 250 });
      const scrolled = await tab.$$eval('.windowtitle', (els) => els.map((e) => e.textContent ?? '').join(' '));
      expect(Number(/phone scrolled (\d+)/.exec(scrolled)?.[1])).toBeGreaterThan(0);

      // The client keeps an editable text area focused (xpra's #pasteboard), so a tap raises the
      // phone's own keyboard; what that keyboard commits arrives as text input, not as key events.
      expect(await tab.evaluate('document.activeElement && document.activeElement.id')).toBe('pasteboard');
      await tab.keyboard.type('hello phone');
      await tab.waitForFunction(windowTitled, 'phone typed hello phone', { timeout: 15_000, polling: 250 });
      await tab.keyboard.insertText(' from the on-screen keyboard'); // an input event only, as a virtual keyboard's commit
      await tab.waitForFunction(windowTitled, 'phone typed hello phone from the on-screen keyboard', { timeout: 15_000, polling: 250 });
    } finally {
      await context.close();
      await t.call('POST', `/v1/sessions/${id}/stop`, { token: user.token });
    }
  });
});
