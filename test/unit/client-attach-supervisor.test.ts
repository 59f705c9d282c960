import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConnectDescriptor, SessionView } from '../../client/src/api-client.js';
import { backoffMs, superviseAttach, type AttachOutcome, type SupervisorDeps } from '../../client/src/attach-supervisor.js';
import { ClientError } from '../../client/src/client-error.js';
import { EXIT } from '../../client/src/exit-codes.js';
import { UnreachableError, UntrustedServerError } from '../../client/src/https-json.js';
import { xpraAttachArguments } from '../../client/src/xpra-command.js';
import { XpraLauncher, type XpraRun } from '../../client/src/xpra-process.js';
import { fakeXpra, tempHome, type TempHome } from './client-fixtures.js';

const SESSION = '0b1e2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';

const view = (state: string, reason: string | null = null, message: string | null = null): SessionView => ({
  session_id: SESSION,
  app: 'firefox',
  state,
  reason,
  message,
  url: null,
  quality: 'low',
  created_at: '2025-01-01T12:00:00Z',
  ready_at: null,
  attached_at: null,
  ended_at: null,
});

/** A descriptor with fresh one-time credentials, as POST /v1/sessions/:id/connect answers. */
const descriptor = (): ConnectDescriptor => ({
  expires_at: '2025-01-01T12:01:00Z',
  browser: { url: 'https://h.example.org/b' },
  native: {
    host: '127.0.0.1',
    port: 14501,
    sni: 's1.sessions.example.org',
    username: 'alice',
    password: `pw-${randomBytes(8).toString('hex')}`,
    ca_url: 'https://h.example.org/ca.pem',
    ca_fingerprint_sha256: 'AA',
  },
});

type Step<T> = T | Error | (() => T | Error);

/**
 * The supervisor's collaborators as scripted queues on a fake clock: `sleep` advances the clock
 * and records the delay; an attach may last a while (also on the fake clock). Running out of a
 * script fails the test instead of looping.
 */
function harness(script: {
  connects?: Step<ConnectDescriptor>[];
  sessions?: Step<SessionView>[];
  exits?: (number | null | { code: number | null; lasts: number })[];
  attach?: (native: ConnectDescriptor['native']) => Promise<XpraRun>;
  interruptAfterAttach?: number;
}) {
  let clock = 1_000_000;
  const sleeps: number[] = [];
  const notices: string[] = [];
  const served: ConnectDescriptor[] = [];
  const attached: ConnectDescriptor['native'][] = [];
  let sessionCalls = 0;
  const connects = script.connects ? [...script.connects] : undefined;
  const sessions = script.sessions ? [...script.sessions] : undefined;
  const exits = [...(script.exits ?? [])];
  const next = <T>(queue: Step<T>[], what: string): T => {
    if (queue.length === 0) throw new Error(`test script ran out of ${what}`);
    const step = queue.shift()!;
    const value = typeof step === 'function' ? (step as () => T | Error)() : step;
    if (value instanceof Error) throw value;
    return value;
  };
  const deps: SupervisorDeps = {
    async connect() {
      const d = connects ? next(connects, 'connects') : descriptor();
      served.push(d);
      return d;
    },
    async session() {
      sessionCalls++;
      return sessions ? next(sessions, 'sessions') : view('active');
    },
    async attach(native) {
      attached.push(native);
      if (script.attach) return script.attach(native);
      if (exits.length === 0) throw new Error('test script ran out of exits');
      const exit = exits.shift()!;
      const { code, lasts } = typeof exit === 'object' && exit !== null ? exit : { code: exit, lasts: 0 };
      clock += lasts;
      return { code, tail: `xpra said goodbye with ${code}` };
    },
    async sleep(ms) {
      sleeps.push(ms);
      clock += ms;
    },
    notice: (m) => notices.push(m),
    now: () => clock,
    interrupted: () => script.interruptAfterAttach !== undefined && attached.length >= script.interruptAfterAttach,
  };
  return { deps, sleeps, notices, served, attached, sessionCalls: () => sessionCalls, advance: (ms: number) => (clock += ms) };
}

async function failure(p: Promise<AttachOutcome>): Promise<ClientError> {
  const err = await p.then(
    (outcome) => new Error(`expected a failure, got ${JSON.stringify(outcome)}`),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ClientError);
  return err as ClientError;
}

describe('the attach supervisor', () => {
  it('grows the reconnect delay from 1 s, doubling, up to 30 s', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 10, 50].map(backoffMs)).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000, 30_000]);
  });

  it('reconnects after lost connections with fresh credentials each time, backing off 1, 2, 4 … 30 s', async () => {
    const h = harness({ exits: [1, 2, 18, 1, 1, 1, 1, 1, 0] });
    const outcome = await superviseAttach(SESSION, h.deps);
    expect(h.sleeps).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
    expect(outcome).toMatchObject({ exitCode: EXIT.ok, attaches: 9 });
    expect(h.attached).toEqual(h.served.map((d) => d.native));
    expect(new Set(h.attached.map((n) => n.password)).size).toBe(9);
    expect(h.notices[0]).toBe('connection lost (xpra exit 1); reconnecting in 1 s');
    expect(h.notices.at(-1)).toBe('connection lost (xpra exit 1); reconnecting in 30 s');
  });

  it('starts the backoff anew after an attach that stayed up for 30 s', async () => {
    const h = harness({ exits: [1, 1, 1, { code: 1, lasts: 30_000 }, 1, 0] });
    await superviseAttach(SESSION, h.deps);
    expect(h.sleeps).toEqual([1000, 2000, 4000, 1000, 2000]);
  });

  it('keeps backing off after an attach that stayed up for just under 30 s', async () => {
    const h = harness({ exits: [1, 1, { code: 1, lasts: 29_999 }, 0] });
    await superviseAttach(SESSION, h.deps);
    expect(h.sleeps).toEqual([1000, 2000, 4000]);
  });

  it.each([3, 4, 7, 11])('stops without retrying when xpra exits %i (authentication failed)', async (code) => {
    const h = harness({ exits: [1, code] });
    const err = await failure(superviseAttach(SESSION, h.deps));
    expect(err.exitCode).toBe(EXIT.attachFailed);
    expect(err.message).toContain(`xpra exit ${code}: authentication failed`);
    expect(err.message).toContain(`xpra said goodbye with ${code}`);
    expect(h.attached).toHaveLength(2);
    expect(h.served).toHaveLength(2);
    expect(h.sleeps).toEqual([1000]);
  });

  it.each([6, 16, 19])('stops without retrying when xpra exits %i (certificate not verified)', async (code) => {
    const h = harness({ exits: [code] });
    const err = await failure(superviseAttach(SESSION, h.deps));
    expect(err.exitCode).toBe(EXIT.attachFailed);
    expect(err.message).toMatch(/certificate could not be verified/);
    expect(h.attached).toHaveLength(1);
    expect(h.sleeps).toEqual([]);
  });

  it.each([5, 127, null])('stops when xpra fails in a way it does not document (exit %s)', async (code) => {
    const h = harness({ exits: [code] });
    const err = await failure(superviseAttach(SESSION, h.deps));
    expect(err.exitCode).toBe(EXIT.attachFailed);
    expect(err.message).toContain('the xpra client failed');
    expect(h.attached).toHaveLength(1);
  });

  it('returns, detached, when xpra exits 0 and the session still runs', async () => {
    const h = harness({ exits: [0] });
    const outcome = await superviseAttach(SESSION, h.deps);
    expect(outcome).toEqual({ exitCode: EXIT.ok, attaches: 1, message: expect.stringMatching(new RegExp(`^detached; session ${SESSION} is still running`)) });
    expect(h.sleeps).toEqual([]);
    expect(h.served).toHaveLength(1);
  });

  it('reports the reason when the session ended while attached', async () => {
    const h = harness({ exits: [1], sessions: [view('stopped', 'idle')] });
    const outcome = await superviseAttach(SESSION, h.deps);
    expect(outcome).toEqual({ exitCode: EXIT.ok, attaches: 1, message: `session ${SESSION} has ended: it was idle for too long` });
    expect(h.sleeps).toEqual([]);
  });

  it('says the session ended, not that it was detached, when xpra exits 0 because the app closed', async () => {
    const h = harness({ exits: [0], sessions: [view('stopped', 'app_exited')] });
    const outcome = await superviseAttach(SESSION, h.deps);
    expect(outcome.exitCode).toBe(EXIT.ok);
    expect(outcome.message).toBe(`session ${SESSION} has ended: the application was closed`);
  });

  it('exits 6 when the session ended in failure, with the server message', async () => {
    const h = harness({ exits: [2], sessions: [view('failed', 'provision_failed', 'no capacity')] });
    const outcome = await superviseAttach(SESSION, h.deps);
    expect(outcome).toEqual({ exitCode: EXIT.sessionFailed, attaches: 1, message: `session ${SESSION} has ended: it failed to start (no capacity)` });
  });

  it('names an unknown end reason as the server gave it', async () => {
    const h = harness({ exits: [1], sessions: [view('stopped', 'reaped_by_admin')] });
    expect((await superviseAttach(SESSION, h.deps)).message).toBe(`session ${SESSION} has ended: reaped_by_admin`);
  });

  it('waits out a stopping session for its final state', async () => {
    const h = harness({ exits: [1], sessions: [view('stopping'), view('stopping'), view('stopped', 'user_stop')] });
    const outcome = await superviseAttach(SESSION, h.deps);
    expect(h.sleeps).toEqual([1000, 1000]);
    expect(outcome).toMatchObject({ exitCode: EXIT.ok, message: `session ${SESSION} has ended: it was stopped` });
  });

  it('treats a session the server no longer knows as ended', async () => {
    const h = harness({ exits: [1], sessions: [new ClientError('no such session', EXIT.refused, 'not_found')] });
    const outcome = await superviseAttach(SESSION, h.deps);
    expect(outcome).toMatchObject({ exitCode: EXIT.ok, message: expect.stringContaining('the server no longer knows it') });
  });

  it('waits while the API is unreachable for new credentials, then attaches', async () => {
    const down = () => new UnreachableError('https://h.example.org', 'ECONNREFUSED');
    const h = harness({ connects: [down, down, descriptor], exits: [0] });
    const outcome = await superviseAttach(SESSION, h.deps);
    expect(h.sleeps).toEqual([1000, 2000]);
    expect(h.notices).toEqual([
      'cannot reach https://h.example.org: ECONNREFUSED; trying again in 1 s',
      'cannot reach https://h.example.org: ECONNREFUSED; trying again in 2 s',
    ]);
    expect(outcome).toMatchObject({ exitCode: EXIT.ok, attaches: 1 });
  });

  it('reconnects when the API cannot say whether the session still runs', async () => {
    const h = harness({
      exits: [1, 0],
      sessions: [new UnreachableError('https://h.example.org', 'ETIMEDOUT'), view('active')],
    });
    const outcome = await superviseAttach(SESSION, h.deps);
    expect(h.sleeps).toEqual([1000]);
    expect(h.served).toHaveLength(2);
    expect(outcome).toMatchObject({ exitCode: EXIT.ok, attaches: 2, message: expect.stringMatching(/^detached/) });
  });

  it('does not retry a server whose certificate is not trusted', async () => {
    const h = harness({ connects: [new UntrustedServerError('https://h.example.org', 'SELF_SIGNED_CERT_IN_CHAIN')] });
    const err = await failure(superviseAttach(SESSION, h.deps));
    expect(err).toBeInstanceOf(UntrustedServerError);
    expect(h.sleeps).toEqual([]);
    expect(h.attached).toEqual([]);
  });

  it('reports the end when connecting is refused because the session has stopped', async () => {
    const h = harness({
      connects: [descriptor, new ClientError('session is not running', EXIT.refused, 'session_not_running')],
      exits: [1],
      sessions: [view('active'), view('stopped', 'max_duration')],
    });
    const outcome = await superviseAttach(SESSION, h.deps);
    expect(outcome).toMatchObject({ exitCode: EXIT.ok, attaches: 1, message: `session ${SESSION} has ended: it reached its maximum duration` });
  });

  it('fails as refused when connecting is refused although the session looks alive', async () => {
    const h = harness({ connects: [new ClientError('session is not running', EXIT.refused, 'session_not_running')], sessions: [view('provisioning')] });
    const err = await failure(superviseAttach(SESSION, h.deps));
    expect(err.exitCode).toBe(EXIT.refused);
    expect(err.message).toContain(`session ${SESSION} is not running`);
  });

  it('exits 130 without asking the API when the person interrupted the attach', async () => {
    const h = harness({ exits: [1], interruptAfterAttach: 1 });
    const outcome = await superviseAttach(SESSION, h.deps);
    expect(outcome).toMatchObject({ exitCode: EXIT.cancelled, attaches: 1, message: expect.stringContaining('still running') });
    expect(h.sessionCalls()).toBe(0);
    expect(h.sleeps).toEqual([]);
  });
});

describe('the attach supervisor running the real xpra launcher', () => {
  let home: TempHome;
  afterEach(() => home?.cleanup());

  /** superviseAttach with a real XpraLauncher running a fake xpra that exits with `codes`. */
  async function supervise(codes: number[], sessions?: SessionView[]) {
    home = tempHome();
    const xpra = fakeXpra(home.root, codes);
    const launcher = new XpraLauncher(home.paths, xpra.binary);
    const h = harness({
      ...(sessions ? { sessions } : {}),
      attach: (native) => launcher.run((passwordFile) => xpraAttachArguments(native, { caFile: '/ca.pem', passwordFile }, 'low'), native.password),
    });
    const result = await superviseAttach(SESSION, h.deps).then(
      (outcome) => ({ outcome, error: undefined }),
      (error: unknown) => ({ outcome: undefined, error: error as ClientError }),
    );
    return { ...h, ...result, runs: xpra.runs() };
  }

  it('re-attaches after exits 1 and 18 with a new password each time, then returns on 0', async () => {
    const r = await supervise([1, 18, 0]);
    expect(r.error).toBeUndefined();
    expect(r.outcome).toMatchObject({ exitCode: EXIT.ok, attaches: 3, message: expect.stringMatching(/^detached/) });
    expect(r.sleeps).toEqual([1000, 2000]);
    expect(r.runs.map((run) => run.password)).toEqual(r.served.map((d) => d.native.password));
    expect(new Set(r.runs.map((run) => run.password)).size).toBe(3);
    expect(new Set(r.runs.map((run) => run.passwordFile)).size).toBe(3);
    for (const run of r.runs) {
      expect(run).toMatchObject({ fileMode: '600', dirMode: '700', afterAttach: 'gone' });
      expect(run.args.join(' ')).not.toContain(run.password);
      expect(run.args).toEqual(expect.arrayContaining(['attach', 'ssl://127.0.0.1:14501/', '--ssl-server-hostname=s1.sessions.example.org', '--encoding=jpeg']));
    }
    expect(readdirSync(home.paths.runtimeDir)).toEqual([]);
  });

  it.each([7, 19])('stops with exit 7 when xpra exits %i, without another attach', async (code) => {
    const r = await supervise([1, code, 0]);
    expect(r.error).toBeInstanceOf(ClientError);
    expect(r.error!.exitCode).toBe(EXIT.attachFailed);
    expect(r.error!.message).toContain(`fake xpra: run 2 exits with ${code}`);
    expect(r.runs).toHaveLength(2);
    expect(r.sleeps).toEqual([1000]);
    expect(readdirSync(home.paths.runtimeDir)).toEqual([]);
  });

  it('returns with the reason once the session has ended', async () => {
    const r = await supervise([1, 2], [view('active'), view('failed', 'app_exited', 'Firefox crashed')]);
    expect(r.outcome).toEqual({ exitCode: EXIT.sessionFailed, attaches: 2, message: `session ${SESSION} has ended: the application was closed (Firefox crashed)` });
    expect(r.runs).toHaveLength(2);
  });
});
