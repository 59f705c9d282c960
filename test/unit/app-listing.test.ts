import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { appsFor } from '../../api/sessions/app-listing.js';
import { readAppCatalog } from '../../core/app-catalog.js';
import { loadApiConfig } from '../../core/config.js';

const config = (env: Record<string, string>) =>
  loadApiConfig({
    HACKSTREAM_ENV: 'development',
    HACKSTREAM_JWT_SECRET: 'j'.repeat(40),
    HACKSTREAM_SECRET_KEY: 'k'.repeat(64),
    HACKSTREAM_SESSION_TOKEN_SECRET: 's'.repeat(40),
    ...env,
  });

describe('GET /v1/apps', () => {
  it("lists the catalog's apps a role may start, with their profile modes and the qualities pools keep warm", () => {
    const c = config({ HACKSTREAM_POOL: 'firefox:auto:2,firefox:low:1' });
    expect(appsFor('user', c)).toEqual([
      { name: 'firefox', title: 'Firefox', profiles: ['ephemeral', 'persist'], opens_urls: true, warm_qualities: ['auto', 'low'] },
      { name: 'thunderbird', title: 'Thunderbird', profiles: ['ephemeral', 'persist'], opens_urls: false, warm_qualities: [] },
    ]);
  });

  it('lists nothing a role may not start, and no warm quality without a pool', () => {
    const c = config({ HACKSTREAM_POOL: '', HACKSTREAM_ROLE_POLICIES: JSON.stringify({ user: { apps: [] }, admin: { apps: ['firefox'] } }) });
    expect(appsFor('user', c)).toEqual([]);
    expect(appsFor('admin', c)).toEqual([{ name: 'firefox', title: 'Firefox', profiles: ['ephemeral', 'persist'], opens_urls: true, warm_qualities: [] }]);
  });
});

describe('the app catalog', () => {
  const withCatalog = (catalog: unknown, env: Record<string, string> = {}) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-apps-'));
    const file = path.join(dir, 'apps.json');
    writeFileSync(file, typeof catalog === 'string' ? catalog : JSON.stringify(catalog));
    try {
      return config({ HACKSTREAM_APP_CATALOG: file, HACKSTREAM_POOL: '', ...env });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const shipped = readAppCatalog();

  it("is the operator's file when one is named: its apps are the ones listed and started, with their facts", () => {
    const c = withCatalog({ writer: { ...shipped.thunderbird, title: 'Writer', image: 'example/writer:1', command: '/usr/local/bin/hackstream-start-writer', policy: { clipboard: false } } });
    expect(Object.keys(c.apps)).toEqual(['writer']);
    expect(c.apps['writer']).toMatchObject({ image: 'example/writer:1', policy: { clipboard: false, fileTransfer: true } });
    // Roles without a list of their own may start every app of the catalog.
    expect(c.policies.user.apps).toEqual(['writer']);
    expect(appsFor('user', c).map((a) => a.name)).toEqual(['writer']);
  });

  it.each([
    ['not JSON', '{nope', /cannot read the app catalog/],
    ['no app', {}, /lists no app/],
    ['a bad name', { 'Fire Fox': shipped.firefox }, /is not an app name/],
    ['a missing fact', { firefox: { ...shipped.firefox, windowClass: undefined } }, /firefox\.windowClass/],
    ['an unknown fact', { firefox: { ...shipped.firefox, gpu: true } }, /firefox/],
    ['a command outside the image\'s start scripts', { firefox: { ...shipped.firefox, command: '/bin/sh' } }, /firefox\.command/],
    ['a data directory outside the home', { firefox: { ...shipped.firefox, dataDir: '/etc' } }, /firefox\.dataDir/],
    ['a data directory that climbs out', { firefox: { ...shipped.firefox, dataDir: '/home/hs/../../etc' } }, /firefox\.dataDir/],
  ])('refuses %s, saying where', (_name, catalog, message) => {
    expect(() => withCatalog(catalog)).toThrow(/HACKSTREAM_APP_CATALOG/);
    expect(() => withCatalog(catalog)).toThrow(message);
  });

  it('refuses a pool of an app it does not list or that cannot be kept warm, and a role allowed an app it does not list', () => {
    expect(() => withCatalog({ firefox: shipped.firefox }, { HACKSTREAM_POOL: 'thunderbird:auto:1' })).toThrow(/HACKSTREAM_POOL: thunderbird is not in the app catalog/);
    expect(() => config({ HACKSTREAM_POOL: 'thunderbird:auto:1' })).toThrow(/HACKSTREAM_POOL: thunderbird cannot be kept warm/);
    expect(() => config({ HACKSTREAM_ROLE_POLICIES: JSON.stringify({ user: { apps: ['gimp'] } }) })).toThrow(/HACKSTREAM_ROLE_POLICIES: user.apps: gimp not in the app catalog/);
  });
});
