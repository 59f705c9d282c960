/**
 * Debian's Chromium driven by playwright-core (no browser download), trusting the HackStream CA
 * the way a user's browser would: through its NSS certificate database (a temporary HOME), not by
 * ignoring certificate errors.
 *
 * The tests' Chromium runs in a network namespace of its own (./browser-namespace.ts) and reaches
 * the host through a SOCKS5 proxy in this process, loopback included: it sees the platform as a
 * browser on another machine does, and none of the host's network changes.
 */
import net from 'node:net';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { createServer as createSocksServer } from '@pondwader/socks5-server';
import { chromium, type Browser, type Page, type Response } from 'playwright-core';
import { createBrowserNamespace } from './browser-namespace.js';
import { chromiumPath } from './paths.js';
import { clientWindows } from './xpra-page.js';

export interface TestBrowser {
  browser: Browser;
  close(): Promise<void>;
}

export interface ChromiumOptions {
  trustCaFile: string;
  /** Default: Debian's Chromium on the host's network. */
  executablePath?: string;
  args?: string[];
}

/** Chromium as configured, with the CA trusted; `close` also removes its temporary HOME. */
export async function startChromium(opts: ChromiumOptions): Promise<TestBrowser> {
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
      ...(opts.args ?? []),
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

/** The proxy's port on the namespace's loopback. */
const PROXY_PORT = 1080;

/**
 * A SOCKS5 proxy on a Unix socket that connects on the host. Chromium hands it host names
 * unresolved; `localhost` and `*.localhost` (the tests' session domains) are loopback, as
 * Chromium itself would resolve them.
 */
function hostProxy(sock: string): Promise<{ close(): void }> {
  const server = createSocksServer();
  server.setConnectionHandler((conn, sendStatus) => {
    const name = conn.destAddress.toLowerCase();
    const host = name === 'localhost' || name.endsWith('.localhost') ? '127.0.0.1' : name;
    const upstream = net.connect(conn.destPort, host);
    upstream.once('connect', () => {
      sendStatus('REQUEST_GRANTED');
      conn.socket.pipe(upstream);
      upstream.pipe(conn.socket);
    });
    upstream.once('error', (err: NodeJS.ErrnoException) => {
      if (upstream.connecting) sendStatus(err.code === 'ECONNREFUSED' ? 'CONNECTION_REFUSED' : 'HOST_UNREACHABLE');
      conn.socket.destroy();
    });
    conn.socket.on('error', () => upstream.destroy());
    conn.socket.on('close', () => upstream.destroy());
    upstream.on('close', () => conn.socket.destroy());
  });
  return new Promise((resolve) => server.listen(sock, () => resolve({ close: () => server.close() })));
}

/** The tests' browser: Chromium isolated from the host's network, reaching it through the proxy. */
export async function launchChromium(opts: { trustCaFile: string }): Promise<TestBrowser> {
  const ns = createBrowserNamespace();
  let proxy: { close(): void } | undefined;
  try {
    const sock = ns.socketPath('socks.sock');
    proxy = await hostProxy(sock);
    await ns.forward(PROXY_PORT, sock);
    // `<-loopback>`: loopback names and addresses go through the proxy too (the host's loopback).
    const started = await startChromium({
      trustCaFile: opts.trustCaFile,
      executablePath: ns.chromium,
      args: [`--proxy-server=socks5://127.0.0.1:${PROXY_PORT}`, '--proxy-bypass-list=<-loopback>'],
    });
    return {
      browser: started.browser,
      async close() {
        await started.close();
        proxy?.close();
        ns.close();
      },
    };
  } catch (err) {
    proxy?.close();
    ns.close();
    throw err;
  }
}

/**
 * Opens a session's browser URL and waits until `shown` holds in the page. On failure, the error
 * says what the client showed instead and what the page logged.
 */
export async function openSessionWindow<A>(
  tab: Page,
  url: string,
  shown: { check: (arg: A) => boolean; arg: A },
  opts: { timeoutMs?: number } = {},
): Promise<Response | null> {
  const pageLog: string[] = [];
  tab.on('console', (m) => pageLog.push(`${m.type()}: ${m.text()}`));
  tab.on('pageerror', (e) => pageLog.push(`pageerror: ${e.message}`));
  tab.on('requestfailed', (req) => pageLog.push(`request failed: ${req.url().split('?')[0]}: ${req.failure()?.errorText ?? ''}`));
  try {
    const response = await tab.goto(url);
    await tab.waitForFunction(shown.check as (arg: unknown) => boolean, shown.arg, { timeout: opts.timeoutMs ?? 30_000, polling: 250 });
    return response;
  } catch (err) {
    // What the client did show instead: its windows' titles and canvases' sizes.
    const shownInstead = await tab.evaluate(clientWindows).catch((e: unknown) => `(could not read the page: ${String(e)})`);
    throw new Error(`session window not shown: ${String(err)}\nthe client shows: ${JSON.stringify(shownInstead)}\npage log:\n${pageLog.slice(-40).join('\n')}`, {
      cause: err,
    });
  }
}
