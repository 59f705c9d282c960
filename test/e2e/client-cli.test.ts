/**
 * The `hackstream` CLI as a user runs it: the bundle on Debian's own Node 18 (test/support/
 * client-node18.ts), against the real stack through the ingress, with its files in a home
 * directory of its own.
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startApiUnderTest, type ApiUnderTest } from '../support/api-under-test.js';
import { Device } from '../support/client-node18.js';
import { Terminal } from '../support/terminal.js';

const stack = inject('stack');
const server = `https://localhost:${stack.ingressPort}`;
const json = (text: string): any => JSON.parse(text);

describe('the hackstream CLI on Debian Node 18', () => {
  let t: ApiUnderTest;
  let user: Awaited<ReturnType<ApiUnderTest['newUser']>>;
  let device: Device;
  beforeAll(async () => {
    t = await startApiUnderTest();
    user = await t.newUser();
    device = new Device({ caFile: stack.caFile });
  });
  afterAll(async () => {
    device?.remove();
    await t?.close();
  });

  it('without a terminal and without credentials, fails at once and says what to do', async () => {
    const launch = await device.run(['launch', 'browser', '--no-attach']);
    expect(launch.code).toBe(3);
    expect(launch.stderr).toMatch(/no server configured: run `hackstream login`/);
    const login = await device.run(['login', '--server', server, '--username', user.username, '--ca', '/ca.pem']);
    expect(login.code).toBe(2);
    expect(login.stderr).toMatch(/password is missing and there is no terminal to ask on: pass --password-stdin/);
    expect(`${launch.stderr}${login.stderr}`).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('logs in with --password-stdin, keeping tokens (never the password) in a file only the user can read', async () => {
    const res = await device.run(['login', '--server', server, '--username', user.username, '--password-stdin', '--ca', '/ca.pem'], { stdin: `${user.password}\n` });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain(`Logged in to ${server} as ${user.username}`);
    const tokens = path.join(device.home, '.config', 'hackstream', 'tokens.json');
    expect(statSync(tokens).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(tokens)).mode & 0o777).toBe(0o700);
    expect(readFileSync(tokens, 'utf8')).not.toContain(user.password);
    expect(json(readFileSync(tokens, 'utf8')).logins[server].username).toBe(user.username);
    const config = await device.run(['config', 'get', 'api_url']);
    expect(config.stdout.trim()).toBe(server);
  });

  it('launches Firefox on a page without attaching, lists it, and stops it', async () => {
    const launched = await device.run(['launch', 'browser', '--url', 'https://example.com/start', '--no-attach', '--json']);
    expect(launched.code, launched.stderr).toBe(0);
    const session = json(launched.stdout);
    expect(session).toMatchObject({ app: 'firefox', state: 'ready', url: 'https://example.com/start', quality: 'low' });
    expect(session.connect.native.sni).toBe(`${session.session_id}.sessions.hackstream.localhost`);
    expect(session.connect.app_link).toBe(`hackstream://localhost:${stack.ingressPort}/sessions/${session.session_id}`);

    // The link a web page offers opens the session in the client without a question (its own
    // server, an attach); a launch link always asks, so without anyone to ask nothing starts.
    const opened = await device.run(['open', session.connect.app_link], { env: { HACKSTREAM_XPRA: '/usr/bin/true' } });
    expect(opened.code, opened.stderr).toBe(0);
    expect(opened.stderr).toMatch(new RegExp(`detached; session ${session.session_id} is still running`));
    const launchLink = await device.run(['open', `hackstream://localhost:${stack.ingressPort}/launch?url=https://example.com/`]);
    expect(launchLink.code).toBe(130);
    expect(launchLink.stderr).toMatch(/Start a new remote Firefox on https:\/\/example.com\/\? It counts against your session quota\. — there is no terminal to ask on/);
    expect((await t.call('GET', '/v1/sessions', { token: user.token })).body.sessions).toHaveLength(1);

    const listed = await device.run(['list', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(json(listed.stdout).map((s: any) => s.session_id)).toContain(session.session_id);
    // What the user may launch, by name: the server's catalog.
    const apps = await device.run(['apps']);
    expect(apps.code, apps.stderr).toBe(0);
    expect(apps.stdout).toMatch(/^APP\s+TITLE\s+PROFILES/);
    expect(apps.stdout).toMatch(/\nthunderbird\s+Thunderbird\s+ephemeral,persist\s+no/);
    const table = await device.run(['list']);
    expect(table.stdout).toMatch(/^ID\s+APP\s+STATE\s+URL\s+STARTED\s+LAST ACTIVITY/);
    expect(table.stdout).toMatch(new RegExp(`${session.session_id}\\s+firefox\\s+ready\\s+https://example.com/start`));

    const stopped = await device.run(['stop', session.session_id.slice(0, 8)]);
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stdout).toMatch(new RegExp(`session ${session.session_id}: (stopped|stopping)`));
    const after = await t.call('GET', `/v1/sessions/${session.session_id}`, { token: user.token });
    expect(['stopped', 'stopping']).toContain(after.body.state);
  });

  it("passes --profile persist through, and shows the server's refusal of a second one", async () => {
    const first = await device.run(['launch', 'browser', '--profile', 'persist', '--no-attach', '--json']);
    expect(first.code, first.stderr).toBe(0);
    const session = json(first.stdout);
    expect(session.state).toBe('ready');
    // The user's profile has one session at a time.
    const second = await device.run(['launch', 'browser', '--profile', 'persist', '--no-attach']);
    expect(second.code).toBe(4);
    expect(second.stderr).toMatch(new RegExp(`^hackstream: .*profile is in use by session ${session.session_id}`, 'm'));
    const stopped = await device.run(['stop', session.session_id]);
    expect(stopped.code, stopped.stderr).toBe(0);
  });

  it('has --help on every command, listing the exit codes', async () => {
    const top = await device.run(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/Exit codes:[\s\S]*3 +not configured or not logged in/);
    for (const command of ['configure', 'config', 'login', 'logout', 'launch', 'list', 'stop', 'attach', 'open', 'gui']) {
      const help = await device.run([command, '--help']);
      expect(help.code, command).toBe(0);
      expect(help.stdout, command).toMatch(new RegExp(`^Usage: hackstream ${command}`));
    }
  });

  it('refuses bad input before calling the server, with exit code 2', async () => {
    const badUrl = await device.run(['launch', 'browser', '--url', 'javascript:alert(1)', '--no-attach']);
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toMatch(/only http and https/);
    const badQuality = await device.run(['launch', 'browser', '--quality', 'ultra']);
    expect(badQuality.code).toBe(2);
    const badLink = await device.run(['open', 'https://example.com/']);
    expect(badLink.code).toBe(2);
    expect(badLink.stderr).toMatch(/not a hackstream:\/\/ link/);
  });

  it('logs out: the server ends the login and the tokens are gone', async () => {
    const tokens = json(readFileSync(path.join(device.home, '.config', 'hackstream', 'tokens.json'), 'utf8')).logins[server];
    const res = await device.run(['logout']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain(`Logged out of ${server}`);
    expect((await t.call('GET', '/v1/me', { token: tokens.access_token })).status).toBe(401);
    expect((await device.run(['list'])).code).toBe(3);
  });
});

describe('hackstream configure in a terminal', () => {
  let t: ApiUnderTest;
  beforeAll(async () => {
    t = await startApiUnderTest();
  });
  afterAll(async () => {
    await t?.close();
  });

  it("asks for the server, trusts its CA after showing the fingerprint, then username, password and the TOTP code", async () => {
    const user = await t.newUser();
    const begin = await t.call('POST', '/v1/me/totp', { token: user.token, body: { password: user.password } });
    const secret = new URL(begin.body.otpauth_uri).searchParams.get('secret')!;
    expect((await t.call('POST', '/v1/me/totp/confirm', { token: user.token, body: { code: await generate({ secret }) } })).status).toBe(200);

    const device = new Device(); // no --ca: the fingerprint is asked for
    const term = new Terminal(['docker', ...device.dockerArgs(['configure'], { tty: true })]);
    try {
      await term.waitFor(/Server URL:/);
      term.type(server);
      const fingerprint = readFileSync(stack.caFile, 'utf8');
      const { X509Certificate } = await import('node:crypto');
      await term.waitFor(new RegExp(`${new X509Certificate(fingerprint).fingerprint256}[\\s\\S]*Trust this CA for ${server}\\? \\[y/N\\]`));
      term.type('y');
      await term.waitFor(/Username:/);
      term.type(user.username);
      await term.waitFor(/Password:/);
      term.type(user.password);
      await term.waitFor(/Authenticator code \(or a recovery code\):/);
      // The enrolment used this time step's code; the next step's is within the server's tolerance.
      term.type(await generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 }));
      await term.waitFor(/Logged in to .* as /);
      expect(await term.exitCode()).toBe(0);
      expect(term.screen()).not.toContain(user.password);
    } finally {
      term.close();
    }
    // Pinned: later commands trust the server without asking, and without a terminal.
    const listed = await device.run(['list', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([]);

    // On a terminal, a launch shows a spinner with the elapsed time while the session starts.
    const launch = new Terminal(['docker', ...device.dockerArgs(['launch', 'browser', '--no-attach'], { tty: true })]);
    try {
      await launch.waitFor(/Starting Firefox… \d+\.\d s/);
      expect(await launch.exitCode(120_000)).toBe(0);
      expect(launch.screen()).toMatch(/session [0-9a-f-]{36} is ready/);
    } finally {
      launch.close();
    }
    const [session] = (await t.call('GET', '/v1/sessions', { token: user.token })).body.sessions;
    await t.call('POST', `/v1/sessions/${session.session_id}/stop`, { token: user.token });
    device.remove();
  });
});

describe('token refresh by concurrent client processes', () => {
  let t: ApiUnderTest;
  beforeAll(async () => {
    // Access tokens expire within seconds: the next command must refresh.
    t = await startApiUnderTest({ HACKSTREAM_ACCESS_TOKEN_TTL_SECONDS: '2' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('lets two processes refresh an expired token at the same moment without revoking the login', async () => {
    const user = await t.newUser();
    const device = new Device({ caFile: stack.caFile });
    try {
      const login = await device.run(['login', '--server', server, '--username', user.username, '--password-stdin', '--ca', '/ca.pem'], { stdin: user.password });
      expect(login.code, login.stderr).toBe(0);
      await new Promise((r) => setTimeout(r, 2500));
      const tokensFile = path.join(device.home, '.config', 'hackstream', 'tokens.json');
      const before = JSON.parse(readFileSync(tokensFile, 'utf8')).logins[server];
      expect(before.access_expires_at).toBeLessThan(Date.now());

      const [a, b] = await Promise.all([device.run(['list', '--json']), device.run(['list', '--json'])]);
      expect([a.code, b.code], `${a.stderr}\n${b.stderr}`).toEqual([0, 0]);
      const after = JSON.parse(readFileSync(tokensFile, 'utf8')).logins[server];
      expect(after.refresh_token).not.toBe(before.refresh_token);

      // The login still works (a reused refresh token would have revoked it), and the server saw no reuse.
      const third = await device.run(['list', '--json']);
      expect(third.code, third.stderr).toBe(0);
      const admin = await t.newUser('admin');
      const audit = await t.call('GET', `/v1/audit?user=${user.id}`, { token: admin.token });
      expect(audit.status).toBe(200);
      expect(audit.body.events.map((e: any) => e.action)).not.toContain('token.reuse_detected');
    } finally {
      device.remove();
    }
  });
});
