/**
 * Debian's Chromium driven by playwright-core (no browser download), trusting the HackStream CA
 * the way a user's browser would: through its NSS certificate database (a temporary HOME), not by
 * ignoring certificate errors.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page, type Response } from 'playwright-core';
import { chromiumPath } from './paths.js';

export interface TestBrowser {
  browser: Browser;
  close(): Promise<void>;
}

export async function launchChromium(opts: { trustCaFile: string }): Promise<TestBrowser> {
  const home = mkdtempSync(path.join(os.tmpdir(), 'hs-chromium-'));
  const nssdb = path.join(home, '.pki', 'nssdb');
  mkdirSync(nssdb, { recursive: true });
  execFileSync('certutil', ['-N', '-d', `sql:${nssdb}`, '--empty-password']);
  execFileSync('certutil', ['-A', '-d', `sql:${nssdb}`, '-n', 'HackStream CA', '-t', 'C,,', '-i', opts.trustCaFile]);
  const browser = await chromium.launch({
    executablePath: chromiumPath(),
    env: { ...process.env, HOME: home },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
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
 * Opens a session's browser URL. When Chromium runs on the Docker host itself, a new session's
 * network interfaces settling can abort a navigation with ERR_NETWORK_CHANGED; then, as a user
 * would, it asks for a fresh link (the token may have been spent) and tries again.
 */
export async function openSession(
  tab: Page,
  firstUrl: string,
  freshUrl: () => Promise<string>,
): Promise<Response | null> {
  let url = firstUrl;
  for (let attempt = 1; ; attempt++) {
    try {
      return await tab.goto(url);
    } catch (err) {
      if (attempt >= 4 || !String(err).includes('ERR_NETWORK_CHANGED')) throw err;
      await new Promise((r) => setTimeout(r, 500));
      url = await freshUrl();
    }
  }
}
