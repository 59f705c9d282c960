/**
 * The `.env` generator for docker-compose.yml (scripts/compose-env.ts), run as an operator runs
 * it: every variable the real compose file requires gets a fresh random secret, the file is mode
 * 600, a second run keeps every value (a new database password would lock the stack out), and
 * values never reach its output.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseEnvFile, requiredVariables } from '../../core/compose-env.js';
import { REPO_ROOT } from '../support/paths.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-compose-env-'));
const output = path.join(dir, '.env');
const compose = readFileSync(path.join(REPO_ROOT, 'docker-compose.yml'), 'utf8');
const run = (...args: string[]) =>
  execFileSync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'scripts', 'compose-env.ts'), '--compose', path.join(REPO_ROOT, 'docker-compose.yml'), '--output', output, ...args], { encoding: 'utf8' });

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('compose-env: the secrets docker-compose.yml needs', () => {
  it('finds what the compose file requires', () => {
    expect(requiredVariables(compose)).toEqual(expect.arrayContaining(['POSTGRES_PASSWORD', 'HACKSTREAM_JWT_SECRET', 'HACKSTREAM_SECRET_KEY', 'HACKSTREAM_SESSION_TOKEN_SECRET', 'REDIS_API_PASSWORD', 'REDIS_WORKER_PASSWORD', 'GRAFANA_ADMIN_PASSWORD']));
  });

  it('writes every one, random, mode 600, and says which without showing them', () => {
    const printed = run('--public-host', 'hackstream.example.org');
    const env = parseEnvFile(readFileSync(output, 'utf8'));
    for (const name of [...requiredVariables(compose), 'HACKSTREAM_ADMIN_PASSWORD']) {
      expect(env.get(name), name).toMatch(/^[0-9a-f]{64}$/);
      expect(printed).toContain(name);
      expect(printed).not.toContain(env.get(name));
    }
    expect(new Set([...env.values()]).size).toBe(env.size);
    expect(env.get('HACKSTREAM_PUBLIC_HOST')).toBe('hackstream.example.org');
    expect(statSync(output).mode & 0o777).toBe(0o600);
  });

  it('keeps every existing value on a second run', () => {
    const before = readFileSync(output, 'utf8');
    expect(run()).toContain('every secret was already set');
    expect(readFileSync(output, 'utf8')).toBe(before);
  });

  it("keeps the operator's own lines and fills in only what is missing", () => {
    writeFileSync(output, '# mine\nPOSTGRES_PASSWORD=kept\nexport SOMETHING=else\nHACKSTREAM_JWT_SECRET=\n', { mode: 0o600 });
    const printed = run();
    const text = readFileSync(output, 'utf8');
    expect(text.startsWith('# mine\nPOSTGRES_PASSWORD=kept\nexport SOMETHING=else\nHACKSTREAM_JWT_SECRET=')).toBe(true);
    expect(parseEnvFile(text).get('HACKSTREAM_JWT_SECRET')).toMatch(/^[0-9a-f]{64}$/);
    expect(printed).toContain('HACKSTREAM_JWT_SECRET');
    expect(printed).not.toContain('POSTGRES_PASSWORD');
  });

  it('changes nothing when the existing file cannot be read', () => {
    const unreadable = path.join(dir, 'unreadable');
    mkdirSync(unreadable);
    const res = spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'scripts', 'compose-env.ts'), '--compose', path.join(REPO_ROOT, 'docker-compose.yml'), '--output', unreadable], { encoding: 'utf8' });
    expect(res.status).toBe(1);
    expect(res.stderr).toMatch(/cannot read .*nothing was changed/);
    expect(statSync(unreadable).isDirectory()).toBe(true);
  });
});
