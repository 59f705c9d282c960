/**
 * The graphical launcher (`hackstream gui`, story L0) against the real stack: the bundled client
 * run as users run it, its zenity dialogs answered by a scripted fake (test/support/fake-zenity.ts)
 * and its xpra client a fake that logs how it was started; then once with the real zenity on a
 * virtual X server, screenshots kept in test-results/client-gui/.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startApiUnderTest, type ApiUnderTest } from '../support/api-under-test.js';
import { buildClientBundle } from '../support/client-bundle.js';
import { FakeXpra, FakeZenity, optionValue, optionValues, type ZenityCall, type ZenityReply } from '../support/fake-zenity.js';
import { REPO_ROOT } from '../support/paths.js';
import { collectOutput, type ProcessResult } from '../support/process-output.js';
import { Display } from '../support/xvfb.js';

const stack = inject('stack');
const server = `https://localhost:${stack.ingressPort}`;
const caFingerprint = new X509Certificate(readFileSync(stack.caFile)).fingerprint256;
const SEP = '\u001f';
const GUI_TIMEOUT_MS = 60_000;
const SCREENSHOTS = path.join(REPO_ROOT, 'test-results', 'client-gui');

const tmp = mkdtempSync(path.join(os.tmpdir(), 'hs-client-gui-'));
let bundle: string;
let t: ApiUnderTest;
/** Sessions to stop whatever happens: [token, id]. */
const started: [string, string][] = [];

beforeAll(async () => {
  bundle = buildClientBundle();
  t = await startApiUnderTest();
});

afterAll(async () => {
  for (const [token, id] of started) await t?.call('POST', `/v1/sessions/${id}/stop`, { token }).catch(() => undefined);
  await t?.close();
  rmSync(tmp, { recursive: true, force: true });
});

type Result = ProcessResult;

/** A device with nothing configured: its own home, XDG directories, fake zenity, xpra and opener. */
class Device {
  readonly dir: string;
  readonly zenity: FakeZenity;
  readonly xpra: FakeXpra;
  readonly openedFile: string;
  readonly env: Record<string, string>;

  constructor(replies: ZenityReply[] = [], extraEnv: Record<string, string> = {}) {
    this.dir = mkdtempSync(path.join(tmp, 'device-'));
    const home = path.join(this.dir, 'home');
    const run = path.join(this.dir, 'run');
    for (const d of [home, run]) mkdirSync(d, { mode: 0o700 });
    this.zenity = new FakeZenity(this.dir, replies);
    this.xpra = new FakeXpra(this.dir);
    this.openedFile = path.join(this.dir, 'opened.txt');
    const opener = path.join(this.dir, 'opener');
    writeFileSync(opener, `#!/bin/sh\nprintf '%s\\n' "$1" >> ${JSON.stringify(this.openedFile)}\n`);
    chmodSync(opener, 0o755);
    this.env = {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      HOME: home,
      XDG_CONFIG_HOME: path.join(home, '.config'),
      XDG_STATE_HOME: path.join(home, '.local', 'state'),
      XDG_RUNTIME_DIR: run,
      DISPLAY: ':99', // the fake zenity needs no X server
      HACKSTREAM_ZENITY: this.zenity.binary,
      HACKSTREAM_XPRA: this.xpra.binary,
      HACKSTREAM_BROWSER_OPENER: opener,
      ...extraEnv,
    };
  }

  get runtimeDir(): string {
    return path.join(this.env['XDG_RUNTIME_DIR']!, 'hackstream');
  }

  /** `hackstream ARGS` on this Node, to completion, killed (with its dialogs) after `timeoutMs`. */
  run(args: string[], o: { stdin?: string; timeoutMs?: number } = {}): Promise<Result> {
    return runClient(this.env, args, o);
  }

  gui(): Promise<Result> {
    return this.run(['gui']);
  }

  async login(user: { username: string; password: string }): Promise<void> {
    const res = await this.run(['login', '--server', server, '--username', user.username, '--password-stdin', '--ca', stack.caFile], { stdin: `${user.password}\n` });
    expect(res.code, res.stderr).toBe(0);
  }

  opened(): string[] {
    return existsSync(this.openedFile) ? readFileSync(this.openedFile, 'utf8').split('\n').filter(Boolean) : [];
  }
}

function runClient(env: Record<string, string>, args: string[], o: { stdin?: string; timeoutMs?: number } = {}): Promise<Result> {
  // Its own process group, so a hung run is killed with every dialog it opened.
  const child = spawn(process.execPath, [bundle, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  return collectOutput(child, o.stdin, o.timeoutMs ?? GUI_TIMEOUT_MS, killGroup);
}

function killGroup(child: ChildProcess): void {
  try {
    if (child.pid) process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

const texts = (calls: ZenityCall[]) => calls.map((c) => optionValue(c.args, '--text') ?? '');
const kinds = (calls: ZenityCall[]) => calls.map((c) => c.dialog);
const isLoginForm = (c: ZenityCall | undefined) => Boolean(c?.args.includes('--add-password=Password'));
const isLauncher = (c: ZenityCall | undefined) => Boolean(c?.args.includes('--add-entry=Page to open'));

/** The progress dialogs' labels (they start alongside the work, so they are matched, not ordered). */
const progressLabels = (z: FakeZenity) =>
  z
    .calls()
    .filter((c) => c.dialog === '--progress')
    .map((c) => optionValue(c.args, '--text'));

/** Every scripted answer was used, and no dialog came that the script did not expect. */
function expectScriptFollowed(z: FakeZenity, res: Result): void {
  const unexpected = z.dialogs().filter((c) => c.unscripted || c.mismatch);
  expect(unexpected, `dialogs: ${JSON.stringify(z.dialogs(), null, 1)}\nstderr: ${res.stderr}`).toEqual([]);
  expect(z.remaining()).toEqual([]);
}

async function createSession(token: string, body: Record<string, unknown> = { app: 'firefox' }): Promise<any> {
  const res = await t.call('POST', '/v1/sessions', { token, body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  started.push([token, res.body.session_id]);
  return res.body;
}

async function waitForState(token: string, id: string, states: string[], seconds: number): Promise<any> {
  const deadline = Date.now() + seconds * 1000;
  let last: any;
  while (Date.now() < deadline) {
    last = (await t.call('GET', `/v1/sessions/${id}`, { token })).body;
    if (states.includes(last?.state)) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`session ${id} did not reach ${states.join('/')} in ${seconds}s; last: ${JSON.stringify(last)}`);
}

describe('hackstream gui, its dialogs answered by a fake zenity', () => {
  it('first run: the login form, the CA fingerprint question, then the launcher', async () => {
    const user = await t.newUser();
    const device = new Device([
      { dialog: '--forms', fields: [server, user.username, user.password] },
      { dialog: '--question', code: 0 },
      { dialog: '--forms', code: 1 }, // the launcher's Cancel
    ]);
    const res = await device.gui();
    expect(res.code, res.stderr).toBe(0);
    expectScriptFollowed(device.zenity, res);

    const [loginForm, trust, launcher] = device.zenity.dialogs();
    for (const c of [loginForm!, trust!, launcher!]) expect(c.args[0]).toBe('--title=HackStream');
    expect(isLoginForm(loginForm)).toBe(true);
    expect(loginForm!.args).toEqual(expect.arrayContaining(['--forms', '--add-entry=Server URL', '--add-entry=Username', '--add-password=Password', '--ok-label=Log in']));
    expect(optionValue(loginForm!.args, '--separator')).toBe(SEP);
    expect(optionValue(loginForm!.args, '--text')).toBe('Log in to your HackStream server');

    // The fingerprint to compare is the stack's CA's, for this server.
    expect(optionValue(trust!.args, '--text')).toContain(caFingerprint);
    expect(optionValue(trust!.args, '--text')).toContain(server);
    expect(progressLabels(device.zenity)).toContain('Logging in…');

    expect(isLauncher(launcher)).toBe(true);
    expect(optionValue(launcher!.args, '--text')).toBe(`Logged in to ${server} as ${user.username}`);
    expect(optionValues(launcher!.args, '--add-combo')).toEqual(['Recent pages', 'Quality (default: low)']);
    const [recent, quality] = optionValues(launcher!.args, '--combo-values');
    expect(recent).toBe(''); // nothing launched yet
    expect(quality!.split('|')).toEqual(['low', 'auto', 'high']);
    expect(optionValue(launcher!.args, '--ok-label')).toBe('Launch Browser');
    expect(optionValues(launcher!.args, '--extra-button')).toEqual(['My sessions', 'Log out']);
    expect(optionValue(launcher!.args, '--separator')).toBe(SEP);

    // The accepted CA is pinned, so the next start goes straight to the launcher.
    device.zenity.script([{ dialog: '--forms', code: 1 }]);
    const second = await device.gui();
    expect(second.code, second.stderr).toBe(0);
    expectScriptFollowed(device.zenity, second);
    expect(device.zenity.dialogs()).toHaveLength(4);
    expect(isLauncher(device.zenity.dialogs()[3])).toBe(true);
  });

  it("a wrong password shows the server's message, then the login form again, remembering the server and username", async () => {
    const user = await t.newUser();
    const refused = await t.call('POST', '/v1/login', { body: { username: user.username, password: 'not-the-password' } });
    expect(refused.status).toBe(401);
    const serverMessage = String(refused.body.error.message);

    const device = new Device([
      { dialog: '--forms', fields: [server, user.username, 'not-the-password'] },
      { dialog: '--question', code: 0 },
      { dialog: '--error', code: 0 },
      // Server URL and username left empty: the ones typed before are used.
      { dialog: '--forms', fields: ['', '', user.password] },
      { dialog: '--forms', code: 1 }, // the launcher's Cancel
    ]);
    const res = await device.gui();
    expect(res.code, res.stderr).toBe(0);
    expectScriptFollowed(device.zenity, res);

    const dialogs = device.zenity.dialogs();
    expect(kinds(dialogs)).toEqual(['--forms', '--question', '--error', '--forms', '--forms']);
    expect(optionValue(dialogs[2]!.args, '--text')).toBe(serverMessage);
    expect(isLoginForm(dialogs[3])).toBe(true);
    expect(optionValue(dialogs[3]!.args, '--text')).toContain(`empty for ${server} as ${user.username}`);
    expect(isLauncher(dialogs[4])).toBe(true);
    expect(optionValue(dialogs[4]!.args, '--text')).toContain(`as ${user.username}`);
  });

  it('launches a session from the launcher, starts xpra with its SNI name, then offers the page as a recent one', async () => {
    const user = await t.newUser();
    const page = 'example.org/hackstream-gui';
    const device = new Device([
      // What zenity prints for a typed page and untouched combos.
      { dialog: '--forms', fields: [page, '', ''] },
      { dialog: '--forms', code: 1 },
    ]);
    await device.login(user);
    const res = await device.gui();
    expect(res.code, res.stderr).toBe(0);
    expectScriptFollowed(device.zenity, res);

    const { sessions } = (await t.call('GET', '/v1/sessions', { token: user.token })).body as { sessions: any[] };
    expect(sessions).toHaveLength(1);
    const session = sessions[0];
    started.push([user.token, session.session_id]);
    expect(session).toMatchObject({ app: 'firefox', url: `https://${page}`, quality: 'low' });
    expect(['ready', 'active']).toContain(session.state);
    expect(progressLabels(device.zenity)).toContain('Starting Firefox…');

    // xpra was started once, through the ingress by the session's SNI name, with the HackStream CA.
    const [xpra, ...more] = device.xpra.calls();
    expect(more).toEqual([]);
    expect(xpra!.args.slice(0, 2)).toEqual(['attach', `ssl://localhost:${stack.ingressPort}/`]);
    const { connect } = (await t.call('POST', `/v1/sessions/${session.session_id}/connect`, { token: user.token })).body;
    expect(connect.native.sni).toMatch(new RegExp(`^${session.session_id}\\.sessions\\.`));
    expect(optionValue(xpra!.args, '--ssl-server-hostname')).toBe(connect.native.sni);
    expect(xpra!.args).toContain('--ssl-server-verify-mode=required');
    expect(xpra!.args).toContain('--encoding=jpeg'); // the low preset
    const caFile = optionValue(xpra!.args, '--ssl-ca-certs')!;
    expect(new X509Certificate(readFileSync(caFile)).fingerprint256).toBe(caFingerprint);
    // The one-time password reached xpra by a file, gone once it had attached.
    expect(xpra!.passwordGiven).toBe(true);
    expect(xpra!.args.some((a) => a.startsWith('--password=') || a.includes(connect.native.password))).toBe(false);
    expect(readdirSync(device.runtimeDir).filter((f) => f.startsWith('token-'))).toEqual([]);

    // Back at the launcher, which now offers the page.
    const [first, second] = device.zenity.dialogs();
    expect(isLauncher(first) && isLauncher(second)).toBe(true);
    expect(optionValues(first!.args, '--combo-values')[0]).toBe('');
    expect(optionValues(second!.args, '--combo-values')[0]).toBe(`https://${page}`);
  });

  it('"My sessions" lists the session; Attach, Open in web browser and Stop act on it; Cancel quits', async () => {
    const user = await t.newUser();
    const session = await createSession(user.token, { app: 'firefox', url: 'https://example.org/mine' });
    const id = String(session.session_id);
    const device = new Device([
      { dialog: '--forms', text: 'My sessions', code: 1 },
      { dialog: '--list', text: id, code: 0 },
      { dialog: '--question', code: 0 }, // Attach
      { dialog: '--list', text: id, code: 0 },
      { dialog: '--question', text: 'Open in web browser', code: 1 },
      { dialog: '--list', text: id, code: 0 },
      { dialog: '--question', text: 'Stop', code: 1 },
      { dialog: '--info', code: 0 }, // "Session … is stopped"
      { dialog: '--info', code: 0 }, // "You have no running sessions."
      { dialog: '--forms', code: 1 }, // back at the launcher: Cancel
    ]);
    await device.login(user);
    const res = await device.gui();
    expect(res.code, res.stderr).toBe(0);
    expectScriptFollowed(device.zenity, res);

    const dialogs = device.zenity.dialogs();
    const list = dialogs[1]!;
    const columns = list.args.filter((a) => a.startsWith('--column='));
    expect(columns).toEqual(['--column=Session', '--column=State', '--column=Started', '--column=Page']);
    const row = list.args.slice(list.args.indexOf('--column=Page') + 1, list.args.indexOf('--column=Page') + 5);
    expect(row).toEqual([id, session.state, expect.stringMatching(/^\d+[smhd] ago$/), 'https://example.org/mine']);
    expect(optionValue(list.args, '--ok-label')).toBe('Choose…');
    expect(optionValue(list.args, '--cancel-label')).toBe('Back');

    const action = dialogs[2]!;
    expect(optionValue(action.args, '--text')).toContain(id);
    expect(optionValue(action.args, '--ok-label')).toBe('Attach');
    expect(optionValues(action.args, '--extra-button')).toEqual(['Open in web browser', 'Stop']);
    expect(optionValue(action.args, '--cancel-label')).toBe('Back');

    // Attach: xpra for this session; Open in web browser: its browser link with a fresh token.
    expect(device.xpra.calls().map((c) => optionValue(c.args, '--ssl-server-hostname'))).toEqual([session.connect.native.sni]);
    const [opened, ...moreOpened] = device.opened();
    expect(moreOpened).toEqual([]);
    expect(opened).toMatch(new RegExp(`^https://${id}\\.web\\.sessions\\.hackstream\\.localhost:${stack.ingressPort}/\\?.*token=`));
    expect(opened).not.toBe(session.connect.browser.url);

    // Stop: the progress dialog, then what the server answered, then the session is gone from the list.
    expect(progressLabels(device.zenity)).toContain('Stopping the session…');
    expect(texts(dialogs.slice(7, 9))).toEqual([expect.stringMatching(new RegExp(`^Session ${id} is (stopping|stopped)\\.$`)), 'You have no running sessions.']);
    expect(isLauncher(dialogs[9])).toBe(true);
    const ended = await waitForState(user.token, id, ['stopped'], 60);
    expect(ended.reason).toBe('user_stop');
  });
});

describe('hackstream gui with the real zenity on a virtual X server', () => {
  let screen: Display;
  beforeAll(async () => {
    screen = await Display.start();
  });
  afterAll(() => screen?.stop());

  /** Starts `hackstream gui` on the virtual display with the real zenity. */
  function startGui(device: Device): { result: Promise<Result>; child: ChildProcess } {
    const env = { ...device.env, DISPLAY: screen.name, NO_AT_BRIDGE: '1' };
    delete (env as Record<string, string | undefined>)['HACKSTREAM_ZENITY'];
    const child = spawn(process.execPath, [bundle, 'gui'], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    return { child, result: collectOutput(child, undefined, GUI_TIMEOUT_MS, killGroup) };
  }

  async function showsWindow(device: Device, shot: string): Promise<Result> {
    const { child, result } = startGui(device);
    try {
      const id = await screen.waitForWindow('HackStream');
      expect(await screen.windowName(id)).toBe('HackStream');
      const { colours, geometry } = await screen.screenshot(id, path.join(SCREENSHOTS, shot));
      // A painted dialog: text, entries, buttons; a blank or black window has one or two colours.
      expect(colours, `colours in ${JSON.stringify(geometry)}`).toBeGreaterThan(16);
      expect(geometry.width).toBeGreaterThanOrEqual(400);
      await screen.cancel(id);
      const res = await result;
      expect(res.code, res.stderr).toBe(0);
      return res;
    } finally {
      killGroup(child);
    }
  }

  it('shows the login form on first run, and the launcher once logged in', async () => {
    const user = await t.newUser();
    const device = new Device();
    await showsWindow(device, 'first-run.png');
    await device.login(user);
    await showsWindow(device, 'launcher.png');
    expect(existsSync(path.join(SCREENSHOTS, 'first-run.png')) && existsSync(path.join(SCREENSHOTS, 'launcher.png'))).toBe(true);
  });
});
