/**
 * The native path as a device uses it: `hackstream launch browser --url …` on Debian's Node 18
 * and Debian's xpra client, drawing on an X display of the host, through the ingress's SNI
 * passthrough. The page is found in the display's pixels. Then a network outage between the
 * device and the ingress: the client re-attaches by itself to the same container.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startApiUnderTest, type ApiUnderTest } from '../support/api-under-test.js';
import { Device, type RunningClient } from '../support/client-node18.js';
import { docker, sessionContainers } from '../support/docker.js';
import { startTcpRelay, type TcpRelay } from '../support/tcp-relay.js';
import { PAGE_COLOUR, serveTestPage, type TestPage } from '../support/test-page.js';
import { until } from '../support/until.js';
import { ARTIFACTS, Display, eventually } from '../support/xvfb.js';

const stack = inject('stack');
const artifact = (name: string) => path.join(ARTIFACTS, 'client-attach', name);
/** The page fills most of the client's window: a fifth of the screen is plenty to tell. */
const SHOWN = 0.2;

async function loggedInDevice(t: ApiUnderTest, server: string, display: Display): Promise<{ device: Device; token: string }> {
  const user = await t.newUser();
  const device = new Device({ caFile: stack.caFile, display: display.name });
  const login = await device.run(['login', '--server', server, '--username', user.username, '--password-stdin', '--ca', '/ca.pem'], { stdin: user.password });
  expect(login.code, login.stderr).toBe(0);
  return { device, token: user.token };
}

async function sessionOf(t: ApiUnderTest, token: string): Promise<any> {
  const res = await t.call('GET', '/v1/sessions', { token });
  return res.body.sessions[0];
}

/**
 * What each test here needs, made before and removed after it: an API (with `apiEnv`), a device
 * display, the test page, and the device and its running client, which the test fills in.
 */
function nativeDeviceFixture(apiEnv: () => Record<string, string> = () => ({})) {
  const f = {} as { t: ApiUnderTest; display: Display; page: TestPage; client?: RunningClient; device?: Device };
  beforeAll(async () => {
    f.t = await startApiUnderTest({ HACKSTREAM_ACTIVITY_POLL_SECONDS: '1', ...apiEnv() });
    f.display = await Display.start();
    f.page = await serveTestPage(inject('stack').outside);
  });
  afterAll(async () => {
    await f.client?.stop();
    f.device?.remove();
    await f.page?.close();
    await f.display?.stop();
    await f.t?.close();
  });
  return f;
}

describe('hackstream launch browser with the native xpra client', () => {
  const f = nativeDeviceFixture();

  it("shows the page on the device's display through the ingress", async () => {
    const { t, display, page } = f;
    const server = `https://localhost:${stack.ingressPort}`;
    const logged = await loggedInDevice(t, server, display);
    f.device = logged.device;
    expect(display.share(PAGE_COLOUR)).toBeLessThan(0.01);
    const client = (f.client = f.device.start(['launch', 'browser', '--url', page.url]));
    await eventually(`the page shows on ${display.name}\n${client.output()}`, () => display.share(PAGE_COLOUR) > SHOWN, 90_000);
    display.share(PAGE_COLOUR, artifact('page-shown.png'));
    expect(client.output()).toMatch(/attached to session [0-9a-f-]{36}/);

    let session = await sessionOf(t, logged.token);
    expect(session).toMatchObject({ url: page.url, quality: 'low' });
    // The worker's watcher sees the client at its next poll.
    for (let i = 0; i < 60 && session.state !== 'active'; i++) {
      await new Promise((r) => setTimeout(r, 500));
      session = await sessionOf(t, logged.token);
    }
    expect(session.state).toBe('active');
    // Ctrl-C detaches; the session goes on.
    await client.stop();
    expect(await client.exited).toBe(130);
    expect(client.output()).toMatch(/still running/);
    expect((await t.call('GET', `/v1/sessions/${session.session_id}`, { token: logged.token })).body.state).toBe('active');
    await t.call('POST', `/v1/sessions/${session.session_id}/stop`, { token: logged.token });
  });
});

describe('an outage between the device and the ingress', () => {
  let relay: TcpRelay;
  beforeAll(async () => {
    relay = await startTcpRelay(stack.ingressPort);
  });
  afterAll(async () => {
    await relay?.close();
  });
  // Connect descriptors name the relay: the device reaches the ingress only through it.
  const f = nativeDeviceFixture(() => ({ HACKSTREAM_PUBLIC_PORT: String(relay.port) }));

  it('is survived: the client re-attaches by itself to the same container and the page shows again', async () => {
    const { t, display, page } = f;
    const server = `https://localhost:${relay.port}`;
    const logged = await loggedInDevice(t, server, display);
    f.device = logged.device;
    const client = (f.client = f.device.start(['launch', 'browser', '--url', page.url]));
    await eventually(`the page shows\n${client.output()}`, () => display.share(PAGE_COLOUR) > SHOWN, 90_000);
    const session = await sessionOf(t, logged.token);
    const [before] = await sessionContainers(session.session_id);
    const startedAt = (await docker.getContainer(before!.Id).inspect()).State.StartedAt;

    await relay.cut();
    await eventually(`the client notices the outage\n${client.output()}`, () => /connection lost/.test(client.output()), 30_000);
    await eventually('the window is gone', () => display.share(PAGE_COLOUR) < 0.01, 30_000);
    display.share(PAGE_COLOUR, artifact('outage.png'));
    await new Promise((r) => setTimeout(r, 10_000));
    expect(client.output()).not.toMatch(/has ended|not retrying/);
    await relay.restore();

    await eventually(`the page shows again\n${client.output()}`, () => display.share(PAGE_COLOUR) > SHOWN, 90_000);
    display.share(PAGE_COLOUR, artifact('reattached.png'));
    expect(client.output().match(/attached to session/g)?.length).toBeGreaterThanOrEqual(2);

    // The same container, never restarted, saw two attaches (each with its own one-time token).
    const [after] = await sessionContainers(session.session_id);
    expect(after!.Id).toBe(before!.Id);
    const inspected = await docker.getContainer(after!.Id).inspect();
    expect(inspected.State.StartedAt).toBe(startedAt);
    expect(inspected.RestartCount).toBe(0);
    const logs = (await docker.getContainer(after!.Id).logs({ stdout: true, stderr: true })).toString('utf8');
    expect(logs.match(/hackstream auth: token \S+ accepted/g)?.length).toBeGreaterThanOrEqual(2);
    // 'active' once the session's watcher has seen a client, at its next poll: the first attach
    // may have been cut before that poll, so the page can show again before the state changes.
    await until(
      'the session is active',
      async () => (await t.call('GET', `/v1/sessions/${session.session_id}`, { token: logged.token })).body.state === 'active' || null,
      30_000,
    );

    await client.stop();
    await t.call('POST', `/v1/sessions/${session.session_id}/stop`, { token: logged.token });
  });
});
