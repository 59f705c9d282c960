/**
 * Firefox's enterprise policies lock the escape hatches of a session (security hardening, point 2):
 * about:config, the developer tools, the profile, support and add-on pages, the password manager's
 * page and every file:// URL (the session's certificate and keys are files under /run/hackstream).
 *
 * Checked on Firefox's own behaviour, in a real session container: each URL is handed to the
 * running Firefox over its remote protocol (the D-Bus call of `hackstream-open-url`, which itself
 * admits only http(s); a user can type any of them into the address bar), and the window title
 * that xpra reports must become Firefox's "Blocked Page" (before each, Firefox shows a built-in page
 * no policy blocks, so each blocked page seen is a new one). Web pages still open. The installed
 * policy file's names are also checked against the schema of the Firefox in the image, so that no
 * lock is silently ignored as an unknown policy.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { FILES, SESSION_FILES_MOUNT } from '../../activities/session-files.js';
import { execIn, waitForApp } from '../support/docker.js';
import { sessionContainerKit } from '../support/session-container.js';
import { testSessionSpec } from '../support/session-spec.js';
import { REPO_ROOT } from '../support/paths.js';
import { serveTestPage } from '../support/test-page.js';
import { FULL_TIER } from '../support/test-tier.js';

const kit = await sessionContainerKit('policies', '10.214.4.0/24');
const { runtime, image } = kit;
const sessionId = randomUUID();
let containerId = '';

/** Firefox's title of the page it shows instead of one a policy blocks (netError.ftl). */
const BLOCKED = 'Blocked Page';
/** A built-in page no policy blocks, with a title of its own (aboutRobots.ftl). */
const UNLOCKED = { url: 'about:robots', title: 'Gort! Klaatu barada nikto!' };

/**
 * What a user could reach from the address bar, and the policy that must block it. Unblocked, the
 * titles would be: Advanced Preferences, Debugging, About Profiles, Troubleshooting Information,
 * Add-ons Manager, Passwords, Index of file:///run/hackstream/, and so on.
 */
const ALL_LOCKED: Array<[url: string, policy: string]> = [
  ['about:config', 'BlockAboutConfig'],
  ['about:debugging', 'DisableDeveloperTools'],
  ['about:devtools-toolbox', 'DisableDeveloperTools'],
  ['about:profiling', 'DisableDeveloperTools'],
  ['about:profiles', 'BlockAboutProfiles'],
  ['about:support', 'BlockAboutSupport'],
  ['about:addons', 'BlockAboutAddons'],
  ['about:logins', 'PasswordManagerEnabled'],
  [`file://${SESSION_FILES_MOUNT}/`, 'WebsiteFilter'],
  [`file://${SESSION_FILES_MOUNT}/${FILES.key}`, 'WebsiteFilter'],
  [`view-source:file://${SESSION_FILES_MOUNT}/`, 'WebsiteFilter'],
  ['file:///etc/passwd', 'WebsiteFilter'],
];
/** Shortened (stack/test.sh without --full): each policy once, and the session's key file. */
const SHORT = new Set(['about:config', 'about:debugging', 'about:profiles', 'about:support', 'about:addons', 'about:logins', `file://${SESSION_FILES_MOUNT}/${FILES.key}`]);
const LOCKED = FULL_TIER ? ALL_LOCKED : ALL_LOCKED.filter(([url]) => SHORT.has(url));

/**
 * Hands a URL to the running Firefox: the same D-Bus remote call as the image's
 * hackstream-open-url (its own functions, loaded from it), without its http(s)-only check.
 */
const OPEN_ANY_URL = `
import importlib.machinery, importlib.util, os, subprocess, sys
loader = importlib.machinery.SourceFileLoader("open_url", "/usr/local/bin/hackstream-open-url")
mod = importlib.util.module_from_spec(importlib.util.spec_from_loader("open_url", loader))
loader.exec_module(mod)
import base64
profile = base64.b64encode(mod.PROFILE.encode()).decode().translate(str.maketrans("+/=", "___"))
payload = ",".join(str(b) for b in mod.remote_command_line(["firefox-esr", sys.argv[1]]))
sys.exit(subprocess.run(["dbus-send", "--session", "--print-reply", "--reply-timeout=10000",
    "--dest=org.mozilla.firefox." + profile, "/org/mozilla/firefox/Remote",
    "org.mozilla.firefox.OpenURL", "array:byte:" + payload],
    env={**os.environ, "DBUS_SESSION_BUS_ADDRESS": "unix:path=" + os.environ["XDG_RUNTIME_DIR"] + "/bus"}).returncode)
`;

async function openInFirefox(url: string): Promise<void> {
  const done = await execIn(containerId, ['python3', '-c', OPEN_ANY_URL, url]);
  expect(done.exitCode, `Firefox did not take ${url}: ${done.output}`).toBe(0);
}

/** The titles of Firefox's windows by xpra's window id, as xpra reports them. */
async function firefoxWindows(): Promise<Map<number, string>> {
  const status = await runtime.xpraStatus(containerId);
  return new Map(status.windows.filter((w) => w.classInstance.some((c) => c.toLowerCase() === 'firefox-esr')).map((w) => [w.id, w.title]));
}

const show = (windows: Map<number, string>): string => [...windows].map(([id, title]) => `${id}: ${title}`).join(' | ');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Opens `url` and waits until a window that is new, or whose title changed, has a title containing
 * `fragment` (a blocked page may also open a second window, so the windows add up); then until the
 * titles stay the same for 1 s, so that the next step starts from a quiet Firefox. Returns the
 * windows seen last.
 */
async function openAndWaitForTitle(url: string, fragment: string, timeoutMs = 30_000): Promise<{ found: boolean; windows: string }> {
  const before = await firefoxWindows();
  await openInFirefox(url);
  const deadline = Date.now() + timeoutMs;
  let windows = before;
  let found = false;
  while (!found && Date.now() < deadline) {
    await sleep(300);
    windows = await firefoxWindows();
    found = [...windows].some(([id, title]) => before.get(id) !== title && title.includes(fragment));
  }
  // Then until the titles stay the same for 1 s (15 s at most).
  let last = show(windows);
  for (let quietSince = Date.now(), giveUp = Date.now() + 15_000; Date.now() - quietSince < 1_000 && Date.now() < giveUp; ) {
    await sleep(400);
    const now = show(await firefoxWindows());
    if (now !== last) [last, quietSince] = [now, Date.now()];
  }
  return { found, windows: last };
}

beforeAll(async () => {
  const { container } = await kit.start(testSessionSpec(image, { sessionId }));
  containerId = container.id;
  await waitForApp(runtime, containerId);
});

afterAll(async () => {
  await kit.close([sessionId]);
});

describe("Firefox's policies in a session container", () => {
  it('names only policies the installed Firefox knows', async () => {
    // The policies Firefox reads, as installed in the image.
    const installed = await execIn(containerId, ['cat', '/usr/lib/firefox-esr/distribution/policies.json']);
    expect(installed.exitCode, installed.output).toBe(0);
    const ours = Object.keys((JSON.parse(installed.output) as { policies: object }).policies);
    // The image holds this repository's file (a stale image would test old policies).
    expect(JSON.parse(installed.output)).toEqual(JSON.parse(readFileSync(path.join(REPO_ROOT, 'images/session/firefox-policies.json'), 'utf8')));
    // The schema the policy engine validates against, from the image's omni.ja.
    const read = await execIn(containerId, [
      'python3', '-c',
      'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile("/usr/lib/firefox-esr/browser/omni.ja").read("modules/policies/policies-schema.json"))',
    ]);
    expect(read.exitCode, read.output).toBe(0);
    const known = new Set(Object.keys((JSON.parse(read.output) as { properties: object }).properties));
    expect(known.size, 'no policy names found in the installed schema').toBeGreaterThan(50);
    expect(ours.filter((name) => !known.has(name))).toEqual([]);
  });

  it('still opens web pages', async () => {
    const page = await serveTestPage(inject('stack').outside);
    try {
      const opened = await openAndWaitForTitle(page.url, page.title);
      expect(opened.found, `${page.url} did not open; windows: ${opened.windows}`).toBe(true);
    } finally {
      await page.close();
    }
  });

  it.each(LOCKED)('blocks %s (%s)', async (url) => {
    // From a page with a title of its own, so that the blocked page seen next is this URL's.
    const unlocked = await openAndWaitForTitle(UNLOCKED.url, UNLOCKED.title);
    expect(unlocked.found, `${UNLOCKED.url} did not open; windows: ${unlocked.windows}`).toBe(true);
    const locked = await openAndWaitForTitle(url, BLOCKED);
    expect(locked.found, `${url} was not blocked; windows: ${locked.windows}`).toBe(true);
  });
});
