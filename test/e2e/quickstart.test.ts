/**
 * The README's first quick-start command, for real: stack/up.sh brings everything up in a fresh
 * data directory (own ports), and running it again is a no-op that still ends with all of it up.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { httpsRequest } from '../support/https-client.js';
import { REPO_ROOT } from '../support/paths.js';
import { freePort } from '../support/ports.js';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'hs-quickstart-'));
let env: NodeJS.ProcessEnv = {};

function run(script: string): { status: number | null; output: string } {
  const res = spawnSync(path.join(REPO_ROOT, 'stack', script), [], { env, encoding: 'utf8', timeout: 600_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return { status: res.status, output: `${res.stdout}${res.stderr}` };
}

const SERVICES = ['redis', 'temporal', 'traefik', 'api', 'worker'];
const pids = () => Object.fromEntries(SERVICES.map((name) => [name, readFileSync(path.join(dataDir, 'run', `${name}.pid`), 'utf8').trim()]));

afterAll(() => {
  if (env['HACKSTREAM_DATA_DIR']) run('down.sh');
  rmSync(dataDir, { recursive: true, force: true });
});

describe('stack/up.sh', () => {
  it('brings the platform up, and a second run changes nothing and leaves it up', async () => {
    const [api, redis, temporal, ui, ingress] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
    env = {
      ...process.env,
      HACKSTREAM_DATA_DIR: dataDir,
      HACKSTREAM_API_PORT: String(api),
      HACKSTREAM_PUBLIC_PORT: String(ingress),
      HACKSTREAM_REDIS_PORT: String(redis),
      HACKSTREAM_TEMPORAL_PORT: String(temporal),
      HACKSTREAM_TEMPORAL_UI_PORT: String(ui),
    };
    delete env['HACKSTREAM_ADMIN_PASSWORD'];

    const first = run('up.sh');
    expect(first.status, first.output).toBe(0);
    expect(first.output).toMatch(/redis: starting/);
    expect(first.output).toMatch(/temporal: starting/);
    expect(first.output).toMatch(/traefik: starting/);
    expect(first.output).toContain(`API:          https://localhost:${ingress}`);
    expect(first.output).toContain(`Temporal UI:  http://127.0.0.1:${ui}`);
    const credentials = /Admin:\s+(\S+) \/ (\S+)/.exec(first.output);
    expect(credentials, first.output).not.toBeNull();
    const before = pids();

    const second = run('up.sh');
    expect(second.status, second.output).toBe(0);
    const steps = second.output.split('\n').filter((l) => l.startsWith('==> '));
    expect(steps.filter((l) => /installing|building|starting|restarting|generating/.test(l)), second.output).toEqual([]);
    for (const service of SERVICES) {
      expect(steps.some((l) => l.startsWith(`==> ${service}: running`)), `${service} in:\n${second.output}`).toBe(true);
    }
    expect(pids()).toEqual(before);

    // Served through the ingress over HTTPS, verified against the CA the stack created.
    const caFile = path.join(dataDir, 'ca', 'ca.pem');
    const ready = await httpsRequest(`https://localhost:${ingress}/ready`, { caFile });
    expect(ready.status, ready.text).toBe(200);
    const login = await httpsRequest(`https://localhost:${ingress}/v1/login`, {
      caFile,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: credentials![1], password: credentials![2] }),
    });
    expect(login.status, login.text).toBe(200);
    // The client's signed apt repository is served through the ingress.
    const release = await httpsRequest(`https://localhost:${ingress}/apt/dists/stable/InRelease`, { caFile });
    expect(release.status).toBe(200);
    expect(release.text).toMatch(/^-----BEGIN PGP SIGNED MESSAGE-----/);
    expect(release.text).toMatch(/^Suite: stable$/m);
  });
});
