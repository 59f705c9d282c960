import { describe, expect, it } from 'vitest';
import { WARM_POLICY, type PoolSpec, type WarmSlot } from '../../workflows/messages.js';
import { appPolicy, canTakeWarmContainer, sessionSpec, warmContainerSpec, type SessionRequest } from '../../workflows/session-spec.js';
import { placementLabels } from '../../core/node-names.js';
import { readAppCatalog } from '../../core/app-catalog.js';

const app = readAppCatalog().firefox!;
const defaults = { shmMb: 512, pidsLimit: 256, connectTimeoutSeconds: 300, readyTimeoutSeconds: 60, activityPollSeconds: 5 };
const quota = { memoryMb: 2048, cpus: 1.5, idleTimeoutSeconds: 900, maxDurationSeconds: 7200 };
const request: SessionRequest = {
  sessionId: 's-1',
  userId: 'u-1',
  app: 'firefox',
  url: 'https://example.com/',
  quality: 'low',
  profile: 'ephemeral',
  requestedAt: 1_700_000_000_000,
  requestedFrom: '192.0.2.7',
  warm: null,
  nodeLabels: {},
};

describe('sessionSpec', () => {
  it("takes limits from the user's quota, its image and launch from the app's catalog entry, the rest from the deployment's defaults, and the role's policy", () => {
    expect(sessionSpec(request, app, quota, { clipboard: false, fileTransfer: true }, defaults)).toEqual({
      sessionId: 's-1',
      userId: 'u-1',
      app: 'firefox',
      url: 'https://example.com/',
      quality: 'low',
      profile: 'ephemeral',
      image: 'hackstream/session-firefox:latest',
      launch: { command: '/usr/local/bin/hackstream-start-app', windowClass: 'firefox-esr', dataDir: '/home/hs/.mozilla/hackstream-profile' },
      resources: { memoryMb: 2048, cpus: 1.5, shmMb: 512, pidsLimit: 256 },
      timeouts: { idleSeconds: 900, connectSeconds: 300, maxDurationSeconds: 7200, readySeconds: 60, activityPollSeconds: 5 },
      policy: { clipboard: false, fileTransfer: true, egress: [] },
      requestedAt: 1_700_000_000_000,
      requestedFrom: '192.0.2.7',
    });
  });

  it('carries the warm slot it was given, and only then', () => {
    const warm: WarmSlot = { sessionId: 's-1', app: 'firefox', quality: 'low', containerId: 'c', containerName: 'n', ip: '10.0.0.2', readyAt: 1 };
    expect(sessionSpec({ ...request, warm }, app, quota, WARM_POLICY, defaults).warm).toEqual(warm);
    expect('warm' in sessionSpec(request, app, quota, WARM_POLICY, defaults)).toBe(false);
  });

  it('carries its node labels only when it has some', () => {
    expect(sessionSpec({ ...request, nodeLabels: { gpu: 'true' } }, app, quota, WARM_POLICY, defaults).nodeLabels).toEqual({ gpu: 'true' });
    expect('nodeLabels' in sessionSpec(request, app, quota, WARM_POLICY, defaults)).toBe(false);
  });

  it('copies the policy instead of sharing the role policy object (which has more fields)', () => {
    const egress = ['198.51.100.7:443'];
    const rolePolicy = { clipboard: true, fileTransfer: false, egress, apps: ['firefox'], maxSessions: 2 };
    const policy = sessionSpec(request, app, quota, rolePolicy, defaults).policy;
    expect(policy).toEqual({ clipboard: true, fileTransfer: false, egress: ['198.51.100.7:443'] });
    expect(policy.egress).not.toBe(egress);
  });
});

describe('appPolicy', () => {
  it("narrows the role's policy by the app's: a role cannot give a session what its app's entry refuses", () => {
    const role = { clipboard: true, fileTransfer: true, egress: [], apps: ['firefox'] };
    expect(appPolicy(role, { policy: { clipboard: false, fileTransfer: true } })).toEqual({ ...role, clipboard: false, fileTransfer: true });
    expect(appPolicy({ ...role, fileTransfer: false }, { policy: { clipboard: true, fileTransfer: true } })).toMatchObject({ clipboard: true, fileTransfer: false });
  });
});

describe('placementLabels', () => {
  it("adds the request's labels to the role's, and refuses a request that would change one of the role's", () => {
    expect(placementLabels({}, {})).toEqual({ ok: true, labels: {} });
    expect(placementLabels({ region: 'eu' }, { gpu: 'true' })).toEqual({ ok: true, labels: { region: 'eu', gpu: 'true' } });
    expect(placementLabels({ region: 'eu' }, { region: 'eu' })).toEqual({ ok: true, labels: { region: 'eu' } });
    expect(placementLabels({ region: 'eu' }, { gpu: 'true', region: 'us' })).toEqual({ ok: false, key: 'region' });
  });
});

describe('canTakeWarmContainer', () => {
  it('only for a warm profile and exactly the policy warm containers start with', () => {
    expect(canTakeWarmContainer('ephemeral', WARM_POLICY, ['ephemeral'])).toBe(true);
    expect(canTakeWarmContainer('ephemeral', { ...WARM_POLICY, clipboard: !WARM_POLICY.clipboard }, ['ephemeral'])).toBe(false);
    expect(canTakeWarmContainer('ephemeral', { ...WARM_POLICY, fileTransfer: !WARM_POLICY.fileTransfer }, ['ephemeral'])).toBe(false);
    expect(canTakeWarmContainer('ephemeral', WARM_POLICY, [])).toBe(false);
  });
});

describe('warmContainerSpec', () => {
  it("is nobody's: no page, no idle or connect clock, the pool's resources, a certificate for the longest session", () => {
    const pool: PoolSpec = {
      app: 'firefox',
      quality: 'auto',
      size: 2,
      image: 'img:2',
      resources: { memoryMb: 1024, cpus: 1, shmMb: 256, pidsLimit: 128 },
      readySeconds: 45,
      maxAgeSeconds: 3600,
      certLifetimeSeconds: 86_400,
    };
    expect(warmContainerSpec(pool, 's-9', 5)).toEqual({
      sessionId: 's-9',
      userId: 'pool',
      app: 'firefox',
      url: null,
      quality: 'auto',
      profile: 'ephemeral',
      image: 'img:2',
      resources: pool.resources,
      timeouts: { idleSeconds: 0, connectSeconds: 0, maxDurationSeconds: 86_400, readySeconds: 45, activityPollSeconds: 0 },
      policy: WARM_POLICY,
      requestedAt: 5,
    });
  });
});
