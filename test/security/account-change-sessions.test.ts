/**
 * Issue 11, point 5: an account change reaches the account's running sessions at once, durably.
 * A role change, a password reset and disabling the account make the session's container refuse
 * every native token issued before the change (a real `xpra attach` through the ingress), while
 * tokens issued afterwards work; disabling also stops the account's sessions. With Temporal
 * unreachable from the API (a relay in front of it, cut) a disable is refused with 503 before
 * anything changed; accepted, its stop follows. Of changes that race for one account, each that
 * commits bumps its token version, the others are refused. The browser path's revocation is in
 * live-access.test.ts.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { User } from '../../core/db/entities.js';
import { startApiUnderTest, type ApiUnderTest } from '../support/api-under-test.js';
import { docker, sessionContainers } from '../support/docker.js';
import { startTcpRelay } from '../support/tcp-relay.js';
import { attachOnce } from '../support/xpra-client.js';

const stack = inject('stack');
let t: ApiUnderTest;
let admin: { token: string };

interface Native {
  sni: string;
  username: string;
  password: string;
}

beforeAll(async () => {
  t = await startApiUnderTest();
  admin = await t.newUser('admin');
});
afterAll(async () => {
  await t?.close();
});

async function startSession(token: string): Promise<{ id: string; native: Native; containerId: string }> {
  const created = await t.call('POST', '/v1/sessions', { token, body: { app: 'firefox' } });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const [container] = await sessionContainers(created.body.session_id);
  return { id: created.body.session_id, native: created.body.connect.native, containerId: container!.Id };
}

const attach = (native: Native) =>
  attachOnce({ host: '127.0.0.1', port: stack.ingressPort, sni: native.sni, caFile: stack.caFile, username: native.username, password: native.password });

async function freshNative(user: { username: string; password: string }, sessionId: string): Promise<Native> {
  // Every login of the account ended with the change: log in again.
  const token = await t.login(user.username, user.password);
  const connect = await t.call('POST', `/v1/sessions/${sessionId}/connect`, { token });
  expect(connect.status, JSON.stringify(connect.body)).toBe(200);
  return connect.body.connect.native;
}

async function containerLog(containerId: string): Promise<string> {
  return (await docker.getContainer(containerId).logs({ stdout: true, stderr: true, follow: false })).toString('latin1');
}

async function patchUser(api: ApiUnderTest, id: string, body: unknown, token = admin.token) {
  return api.call('PATCH', `/v1/users/${id}`, { token, body });
}

describe("an account change reaches the account's running sessions", () => {
  it('a role change and a password reset: native tokens issued before are refused, later ones work', async () => {
    const user = await t.newUser();
    const session = await startSession(user.token);
    const beforeRoleChange = session.native;
    const afterRoleChange = await (async () => {
      const res = await patchUser(t, user.id, { role: 'admin' });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return freshNative(user, session.id);
    })();
    const beforeReset = await freshNative(user, session.id);
    try {
      const refused = await attach(beforeRoleChange);
      expect(refused.attached, refused.output).toBe(false);
      expect(await containerLog(session.containerId)).toContain(`hackstream auth: token ${beforeRoleChange.username} was revoked by an account change`);
      const admitted = await attach(afterRoleChange);
      expect(admitted.attached, admitted.output).toBe(true);

      const reset = await patchUser(t, user.id, { reset_password: true });
      expect(reset.status, JSON.stringify(reset.body)).toBe(200);
      const afterReset = await attach(beforeReset);
      expect(afterReset.attached, afterReset.output).toBe(false);
      expect(await containerLog(session.containerId)).toContain(`hackstream auth: token ${beforeReset.username} was revoked by an account change`);
    } finally {
      await t.call('POST', `/v1/sessions/${session.id}/stop`, { token: admin.token });
    }
  });

  it('changes that race: each one that commits bumps the token version once; the others are refused (409) and change nothing', async () => {
    const user = await t.newUser();
    const versionOf = async () => (await t.api.db.em.fork().findOneOrFail(User, { id: user.id })).tokenVersion;
    const before = await versionOf();
    const answers = await Promise.all(Array.from({ length: 6 }, () => patchUser(t, user.id, { reset_password: true })));
    const statuses = answers.map((a) => a.status);
    expect(statuses.every((s) => s === 200 || s === 409), JSON.stringify(answers.map((a) => a.body))).toBe(true);
    const committed = statuses.filter((s) => s === 200).length;
    expect(committed).toBeGreaterThanOrEqual(1);
    for (const refused of answers.filter((a) => a.status === 409)) expect(refused.body).toMatchObject({ error: { code: 'concurrent_change' } });
    // Without the compare-and-set, every request answered 200 and the version rose by one only.
    expect(await versionOf()).toBe(before + committed);
    const audit = await t.call('GET', `/v1/audit?user=${user.id}&action=user.password_reset`, { token: admin.token });
    expect(audit.body.events).toHaveLength(committed);
  });

  it('disable: refused with nothing changed while Temporal is unreachable; accepted, it stops the sessions', async () => {
    const user = await t.newUser();
    const session = await startSession(user.token);
    // The API again, with its way to Temporal through a relay the test cuts (one API at a time:
    // the ingress routes to the newest).
    await t.close();
    const relay = await startTcpRelay(Number(stack.temporalAddress.split(':').pop()));
    try {
      t = await startApiUnderTest({ HACKSTREAM_TEMPORAL_ADDRESS: `127.0.0.1:${relay.port}` });
      const cutOffAdmin = await t.newUser('admin');
      await relay.cut();
      const res = await patchUser(t, user.id, { disabled: true }, cutOffAdmin.token);
      expect(res.status, JSON.stringify(res.body)).toBe(503);
      expect(res.headers['retry-after']).toBeTruthy();
      expect(res.body).toMatchObject({ error: { code: 'temporal_unavailable' } });
    } finally {
      await t.close();
      await relay.close();
      t = await startApiUnderTest();
      admin = await t.newUser('admin');
    }
    // Nothing changed: the account is enabled, its logins and its session work.
    const unchanged = await t.call('GET', `/v1/users/${user.id}`, { token: admin.token });
    expect(unchanged.body).toMatchObject({ disabled: false });
    expect((await t.call('GET', `/v1/sessions/${session.id}`, { token: admin.token })).body).toMatchObject({ state: 'ready' });

    const disabled = await patchUser(t, user.id, { disabled: true });
    expect(disabled.status, JSON.stringify(disabled.body)).toBe(200);
    const refused = await attach(session.native);
    expect(refused.attached, refused.output).toBe(false);
    const deadline = Date.now() + 60_000;
    let state = '';
    while (Date.now() < deadline) {
      state = (await t.call('GET', `/v1/sessions/${session.id}`, { token: admin.token })).body.state;
      if (state === 'stopped') break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(state).toBe('stopped');
    expect(await sessionContainers(session.id)).toEqual([]);
    const audit = await t.call('GET', `/v1/audit?user=${user.id}&action=user.disabled`, { token: admin.token });
    expect(audit.body.events[0]).toMatchObject({ action: 'user.disabled', details: { sessions_stopped: 1 } });
  });
});
