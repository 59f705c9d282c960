/**
 * docker-compose.yml, loaded as Docker Compose v2 loads it (compose-go, through
 * test/support/compose-check), with the .env that scripts/compose-env.ts writes: the file is valid
 * for the compose specification, every variable it requires is set by the generator (and a missing
 * one stops it with its message), every repository file it mounts exists, the images it builds
 * have their Dockerfiles, and each control-plane container's environment passes the API's or the
 * worker's own configuration parser. This machine has no `docker compose` and no registry for the
 * upstream images (PostgreSQL, Redis, Temporal, Traefik, Prometheus, Grafana): the README says so.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadApiConfig, loadWorkerConfig } from '../../core/config.js';
import { REPO_ROOT } from '../support/paths.js';

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  environment?: Record<string, string | null>;
  volumes?: Array<{ type: string; source: string; target: string }>;
  ports?: Array<{ host_ip?: string; published: string }>;
  network_mode?: string;
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-compose-'));
const checker = path.join(dir, 'compose-check');
const envFile = path.join(dir, '.env');
const compose = path.join(REPO_ROOT, 'docker-compose.yml');
let services: Record<string, Service>;

function load(env: string, ...profiles: string[]) {
  return spawnSync(checker, [compose, env, ...profiles], { encoding: 'utf8' });
}

beforeAll(() => {
  execFileSync('go', ['build', '-o', checker, '.'], { cwd: path.join(REPO_ROOT, 'test', 'support', 'compose-check'), stdio: 'pipe' });
  execFileSync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'scripts', 'compose-env.ts'), '--compose', compose, '--output', envFile, '--public-host', 'hackstream.example.org']);
  const loaded = load(envFile, 'build');
  expect(loaded.status, loaded.stderr).toBe(0);
  services = (JSON.parse(loaded.stdout) as { services: Record<string, Service> }).services;
}, 300_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('docker-compose.yml', () => {
  it('loads as Compose v2 loads it, with the generated .env, and stops on a missing secret with its message', () => {
    expect(Object.keys(services).sort()).toEqual(
      ['api', 'grafana', 'postgres', 'prometheus', 'redis', 'redis-config', 'session-image', 'temporal', 'temporal-ui', 'thunderbird-image', 'traefik', 'traefik-config', 'worker'].sort(),
    );
    const without = load('/dev/null');
    expect(without.status).not.toBe(0);
    expect(without.stderr).toMatch(/required variable \w+ is missing a value: set \w+/);
  });

  it('mounts only repository files that exist, and builds its images from Dockerfiles that exist', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const v of s.volumes ?? []) {
        if (v.type === 'bind' && v.source.startsWith(REPO_ROOT)) expect(existsSync(v.source), `${name}: ${v.source}`).toBe(true);
      }
      if (s.build) expect(existsSync(path.join(s.build.context, s.build.dockerfile)), `${name}: ${s.build.dockerfile}`).toBe(true);
    }
    const built = Object.values(services).flatMap((s) => (s.build ? [s.image] : []));
    expect(built.sort()).toEqual(['hackstream/control-plane:latest', 'hackstream/session-firefox:latest', 'hackstream/session-thunderbird:latest']);
    for (const s of Object.values(services)) {
      if (s.image?.startsWith('hackstream/')) expect(built, s.image).toContain(s.image);
    }
  });

  it('publishes internal services on loopback only', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const p of s.ports ?? []) expect(p.host_ip, `${name} publishes ${p.published}`).toBe('127.0.0.1');
    }
  });

  it("gives the API and the worker an environment their configuration parsers accept", () => {
    const env = (s: Service) => Object.fromEntries(Object.entries(s.environment ?? {}).flatMap(([k, v]) => (v === null ? [] : [[k, v]])));
    const api = loadApiConfig(env(services['api']!));
    expect(api.db.driver).toBe('postgresql');
    expect(api.temporalUiUrl).toBe('http://127.0.0.1:8233');
    const worker = loadWorkerConfig(env(services['worker']!));
    expect(worker.temporalMetricsAddress).toBe('127.0.0.1:9466');
    expect(worker.sessionTokenSecret).toBe(api.sessionTokenSecret);
  });
});
