/** Role policies from HACKSTREAM_ROLE_POLICIES, applied by the API to new sessions. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionWorkflowId } from '../../workflows/messages.js';
import type { SessionWorkflow } from '../../workflows/session-workflow.js';
import { startApiUnderTest, type ApiUnderTest } from '../support/api-under-test.js';

let t: ApiUnderTest;

beforeAll(async () => {
  t = await startApiUnderTest({
    HACKSTREAM_ROLE_POLICIES: JSON.stringify({ user: { apps: [] }, admin: { clipboard: false, fileTransfer: true, maxDurationSeconds: 600 } }),
  });
});
afterAll(async () => {
  await t?.close();
});

describe('role policies', () => {
  it('refuse an app the role may not start with 403 and no session', async () => {
    const user = await t.newUser('user');
    const res = await t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox' } });
    expect(res.status).toBe(403);
    expect(res.body.error).toEqual({ code: 'app_not_allowed', message: 'the user role may not start firefox (allowed: none)' });
    expect((await t.call('GET', '/v1/sessions', { token: user.token })).body.sessions).toEqual([]);
  });

  it("shape the session the role may start: features and maximum duration", async () => {
    const admin = await t.newUser('admin');
    const res = await t.call('POST', '/v1/sessions', { token: admin.token, body: { app: 'firefox' } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    try {
      const handle = t.temporal.workflow.getHandle<typeof SessionWorkflow>(sessionWorkflowId(res.body.session_id));
      const history = await handle.fetchHistory();
      const input = JSON.parse(
        Buffer.from(history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!.data!).toString('utf8'),
      );
      expect(input.spec.policy).toEqual({ clipboard: false, fileTransfer: true, egress: [] });
      expect(input.spec.timeouts.maxDurationSeconds).toBe(600);
    } finally {
      await t.call('POST', `/v1/sessions/${res.body.session_id}/stop`, { token: admin.token });
    }
  });
});
