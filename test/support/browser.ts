/** Debian's Chromium driven by playwright-core (no browser download). */
import { chromium, type Browser } from 'playwright-core';
import { chromiumPath } from './paths.js';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
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
}
