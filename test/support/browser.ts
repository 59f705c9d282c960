/**
 * Debian's Chromium driven by playwright-core (no browser download), trusting the HackStream CA
 * the way a user's browser would: through its NSS certificate database (a temporary HOME), not by
 * ignoring certificate errors.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page, type Response } from 'playwright-core';
import { chromiumPath } from './paths.js';
import { clientWindows } from './xpra-page.js';

export interface TestBrowser {
  browser: Browser;
  close(): Promise<void>;
}

export interface ChromiumOptions {
  trustCaFile: string;
  executablePath?: string;
  /**
   * Chromium's `--host-resolver-rules`, for sessions' browser hosts without DNS: e.g.
   * `MAP *.web.sessions.example.org 127.0.0.1`. Not needed under `.localhost`, which Chromium
   * itself resolves to loopback (the tests' default domain).
   */
  hostResolverRules?: string;
}

export async function launchChromium(opts: ChromiumOptions): Promise<TestBrowser> {
  const home = mkdtempSync(path.join(os.tmpdir(), 'hs-chromium-'));
  const nssdb = path.join(home, '.pki', 'nssdb');
  mkdirSync(nssdb, { recursive: true });
  execFileSync('certutil', ['-N', '-d', `sql:${nssdb}`, '--empty-password']);
  execFileSync('certutil', ['-A', '-d', `sql:${nssdb}`, '-n', 'HackStream CA', '-t', 'C,,', '-i', opts.trustCaFile]);
  const browser = await chromium.launch({
    executablePath: opts.executablePath ?? chromiumPath(),
    env: { ...process.env, HOME: home },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...(opts.hostResolverRules ? [`--host-resolver-rules=${opts.hostResolverRules}`] : []),
    ],
  });
  return {
    browser,
    async close() {
      await browser.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/**
 * Waits until the host's network interfaces and addresses have not changed for `quietMs` (at most `maxMs`):
 * Chromium aborts requests in flight whenever they change, as they do while the warm pool starts
 * containers (a network and a bridge address each).
 */
async function untilInterfacesSettle(quietMs = 2000, maxMs = 30_000): Promise<void> {
  const snapshot = () =>
    JSON.stringify([readdirSync('/sys/class/net'), Object.entries(os.networkInterfaces()).map(([name, addrs]) => [name, addrs?.map((a) => a.address)])]);
  const deadline = Date.now() + maxMs;
  let last = snapshot();
  let quietSince = Date.now();
  while (Date.now() - quietSince < quietMs && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    const now = snapshot();
    if (now !== last) [last, quietSince] = [now, Date.now()];
  }
}

/**
 * Reloads a page. On the Docker host, a session network that comes or goes (another test's
 * session still being torn down) makes Chromium abort the navigation with ERR_NETWORK_CHANGED,
 * which a user on another machine never sees: then it waits until the host's addresses settle and
 * reloads again, as a user would.
 */
export async function reloadOnHost(page: Page, attempts = 3): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await page.reload();
      return;
    } catch (err) {
      if (attempt >= attempts || !String(err).includes('ERR_NETWORK_CHANGED')) throw err;
      await untilInterfacesSettle();
    }
  }
}

/**
 * Opens a session's browser URL and waits until `shown` holds in the page. When Chromium runs on
 * the Docker host itself, a new session's network interfaces settling can abort the navigation or
 * the client's WebSocket (ERR_NETWORK_CHANGED); then it waits until the host's addresses settle
 * and, as a user would, asks for a fresh link (the token may have been spent) and tries again. What the page logged is kept for the failure message.
 */
export async function openSessionWindow<A>(
  tab: Page,
  firstUrl: string,
  freshUrl: () => Promise<string>,
  shown: { check: (arg: A) => boolean; arg: A },
  opts: { attempts?: number; attemptTimeoutMs?: number } = {},
): Promise<Response | null> {
  const attempts = opts.attempts ?? 3;
  const pageLog: string[] = [];
  tab.on('console', (m) => pageLog.push(`${m.type()}: ${m.text()}`));
  tab.on('pageerror', (e) => pageLog.push(`pageerror: ${e.message}`));
  // A request of the client aborted by a network change leaves the page broken: retry at once.
  let broken: (reason: Error) => void = () => undefined;
  tab.on('requestfailed', (req) => {
    const error = req.failure()?.errorText ?? '';
    if (error.includes('ERR_NETWORK_CHANGED')) broken(new Error(`${req.url().split('?')[0]} failed: ${error}`));
  });
  let url = firstUrl;
  for (let attempt = 1; ; attempt++) {
    try {
      // Each promise is raced against `failed`; the loser's later rejection is expected, not unhandled.
      const failed = new Promise<never>((_resolve, reject) => (broken = reject));
      const navigation = tab.goto(url);
      const showing = navigation.then(() =>
        tab.waitForFunction(shown.check as (arg: unknown) => boolean, shown.arg, { timeout: opts.attemptTimeoutMs ?? 30_000, polling: 250 }),
      );
      for (const p of [failed, navigation, showing]) p.catch(() => undefined);
      await Promise.race([showing, failed]);
      return await navigation;
    } catch (err) {
      if (attempt >= attempts) {
        // What the client did show instead: its windows' titles and canvases' sizes.
        const shownInstead = await tab.evaluate(clientWindows).catch((e: unknown) => `(could not read the page: ${String(e)})`);
        throw new Error(`session window not shown after ${attempts} attempts: ${String(err)}\nthe client shows: ${JSON.stringify(shownInstead)}\npage log:\n${pageLog.slice(-40).join('\n')}`, {
          cause: err,
        });
      }
      process.stderr.write(
        `openSessionWindow: attempt ${attempt} failed (${String(err).split('\n')[0]}); retrying with a fresh link; page log:\n  ${pageLog.slice(-15).join('\n  ')}\n`,
      );
      pageLog.length = 0;
      await untilInterfacesSettle();
      url = await freshUrl();
    }
  }
}
