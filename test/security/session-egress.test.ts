/**
 * Issue 11, points 2 and 7: a session reaches the public internet only. From inside a running
 * session, as its user: a public address answers (the outside world of
 * test/support/outside-world.ts, routed like the internet), while the cloud metadata address, a
 * private LAN host, the host itself (its address and the session's gateway: Redis, Temporal, the
 * API, PostgreSQL's port, any listener) do not (other sessions: session-reachability.test.ts). An operator's opening for the
 * role (HACKSTREAM_ROLE_POLICIES' `egress`) lets that role's sessions reach exactly the opened
 * destination and port, and is gone when the session ends.
 */
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CHAINS } from '../../activities/session-firewall.js';
import { startApiUnderTest, type ApiUnderTest } from '../support/api-under-test.js';
import { canConnectFrom, docker, greetingFrom, hostAddress, sessionContainers } from '../support/docker.js';
import { OUTSIDE, OUTSIDE_PORTS } from '../support/outside-world.js';

const stack = inject('stack');
const [OPEN_PORT, OTHER_PORT] = OUTSIDE_PORTS;
let t: ApiUnderTest;
let user: { token: string };
let admin: { token: string };
const started: Array<{ id: string; token: string }> = [];

beforeAll(async () => {
  // Admins' sessions may reach one port of the LAN host; users' sessions nothing private.
  t = await startApiUnderTest({ HACKSTREAM_ROLE_POLICIES: JSON.stringify({ admin: { egress: [`${OUTSIDE.lanHost}:${OPEN_PORT}`] } }) });
  user = await t.newUser();
  admin = await t.newUser('admin');
});
afterAll(async () => {
  for (const s of started) await t.call('POST', `/v1/sessions/${s.id}/stop`, { token: s.token });
  await t?.close();
});

async function sessionOf(token: string, app = 'firefox'): Promise<{ id: string; containerId: string; ip: string; gateway: string }> {
  const created = await t.call('POST', '/v1/sessions', { token, body: { app } });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  started.push({ id: created.body.session_id, token });
  const [container] = await sessionContainers(created.body.session_id);
  const network = Object.values((await docker.getContainer(container!.Id).inspect()).NetworkSettings.Networks)[0]!;
  return { id: created.body.session_id, containerId: container!.Id, ip: network.IPAddress, gateway: network.Gateway };
}

const openings = () => execFileSync('iptables', ['-w', '10', '-S', CHAINS.openings], { encoding: 'utf8' });

describe('egress from a session', () => {
  // Every app's image runs under the same rules: the firewall knows sessions, not apps.
  it.each(['firefox', 'thunderbird'])('of %s reaches a public address, but not link-local, private ranges, the host or the control plane', async (app) => {
    const s = await sessionOf((await t.newUser()).token, app);
    expect(await greetingFrom(s.containerId, OUTSIDE.publicHost, OPEN_PORT)).toBe('hello');
    expect(await canConnectFrom(s.containerId, OUTSIDE.metadata, OPEN_PORT)).toBe(false);
    expect(await canConnectFrom(s.containerId, OUTSIDE.lanHost, OPEN_PORT)).toBe(false);

    // A listener on all the host's addresses, and the control plane's own ports.
    const listener = net.createServer((c) => c.end('hello\n'));
    await new Promise<void>((r) => listener.listen(0, '0.0.0.0', r));
    try {
      const ports = [
        (listener.address() as net.AddressInfo).port,
        Number(new URL(stack.env['HACKSTREAM_REDIS_URL']!).port),
        Number(stack.temporalAddress.split(':').pop()),
        Number(stack.env['HACKSTREAM_API_PORT']),
        stack.ingressPort,
        5432,
      ];
      for (const target of [hostAddress(), s.gateway]) {
        for (const port of ports) expect(await canConnectFrom(s.containerId, target, port), `${target}:${port}`).toBe(false);
      }
    } finally {
      listener.close();
    }
  });

  it("reaches what its role's opening allows, exactly, until the session ends", async () => {
    const opened = await sessionOf(admin.token);
    const plain = await sessionOf((await t.newUser()).token);
    expect(await greetingFrom(opened.containerId, OUTSIDE.lanHost, OPEN_PORT)).toBe('hello');
    expect(await canConnectFrom(opened.containerId, OUTSIDE.lanHost, OTHER_PORT)).toBe(false);
    expect(await canConnectFrom(opened.containerId, OUTSIDE.metadata, OPEN_PORT)).toBe(false);
    expect(await canConnectFrom(plain.containerId, OUTSIDE.lanHost, OPEN_PORT)).toBe(false);
    expect(openings()).toContain(`hackstream-session=${opened.id}`);

    const stopped = await t.call('POST', `/v1/sessions/${opened.id}/stop`, { token: admin.token });
    expect(stopped.status, JSON.stringify(stopped.body)).toBeLessThan(300);
    const deadline = Date.now() + 60_000;
    while (openings().includes(`hackstream-session=${opened.id}`) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    expect(openings()).not.toContain(`hackstream-session=${opened.id}`);
  });

  it('opens what an admin adds through the API for new sessions of the role, validating and auditing it', async () => {
    const path = '/v1/roles/user/egress';
    expect((await t.call('PUT', path, { token: user.token, body: { destinations: [] } })).status).toBe(403);
    const bad = await t.call('PUT', path, { token: admin.token, body: { destinations: ['fd00::1'] } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toMatch(/IPv6/);
    expect((await t.call('PUT', '/v1/roles/nobody/egress', { token: admin.token, body: { destinations: [] } })).status).toBe(400);

    const put = await t.call('PUT', path, { token: admin.token, body: { destinations: [`${OUTSIDE.lanHost}:${OTHER_PORT}`] } });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(put.body).toMatchObject({ role: 'user', configured: [], added: [`${OUTSIDE.lanHost}:${OTHER_PORT}`] });
    const someone = await t.newUser();
    try {
      const s = await sessionOf(someone.token);
      expect(await greetingFrom(s.containerId, OUTSIDE.lanHost, OTHER_PORT)).toBe('hello');
      expect(await canConnectFrom(s.containerId, OUTSIDE.lanHost, OPEN_PORT)).toBe(false);
      const audit = await t.call('GET', '/v1/audit?action=role.egress_updated&limit=10', { token: admin.token });
      expect(audit.body.events[0]).toMatchObject({ action: 'role.egress_updated', target_id: 'user', details: { after: [`${OUTSIDE.lanHost}:${OTHER_PORT}`] } });
    } finally {
      expect((await t.call('PUT', path, { token: admin.token, body: { destinations: [] } })).status).toBe(200);
    }
    // Removed from the role: a new session of it is back to the public internet only.
    const after = await sessionOf(someone.token);
    expect(await canConnectFrom(after.containerId, OUTSIDE.lanHost, OTHER_PORT)).toBe(false);
  });
});
