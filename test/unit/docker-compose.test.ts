/**
 * docker-compose.yml starts Traefik with the static configuration the project generates
 * (core/traefik-static-config.ts, written by a one-shot service running
 * scripts/traefik-static-config.ts), never with settings re-typed as flags that drift from it;
 * and the API can write its own router into the routes directory Traefik watches.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadWorkerConfig } from '../../core/config.js';
import { traefikStaticConfig } from '../../core/traefik-static-config.js';
import { REPO_ROOT } from '../support/paths.js';

const compose: any = parse(readFileSync(path.join(REPO_ROOT, 'docker-compose.yml'), 'utf8'));
const services = compose.services;
const SCRIPT = 'dist/scripts/traefik-static-config.js';
const tmp = mkdtempSync(path.join(os.tmpdir(), 'hs-compose-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A service's command as words (a `sh -c` script split on blanks). */
const words = (service: any): string[] => [service.entrypoint ?? [], service.command ?? []].flat().flatMap((w: string) => String(w).split(/\s+/)).filter(Boolean);

/** What the init service passes to the script: --output and the positional arguments. */
function scriptArguments(): { output: string | undefined; positionals: string[] } {
  const all = words(services['traefik-config']);
  const rest = all.slice(all.indexOf(SCRIPT) + 1);
  const end = rest.findIndex((w) => w === '&&' || w === ';');
  const args = end === -1 ? rest : rest.slice(0, end);
  const at = args.indexOf('--output');
  const output = at === -1 ? undefined : args[at + 1];
  return { output, positionals: at === -1 ? args : [...args.slice(0, at), ...args.slice(at + 2)] };
}

/** The routes directory the API and the worker derive from the compose file's shared settings. */
function routesDir(): string {
  const { HACKSTREAM_DATA_DIR, HACKSTREAM_ROUTES_DIR } = compose['x-hackstream-env'];
  return loadWorkerConfig({ HACKSTREAM_DATA_DIR, HACKSTREAM_ROUTES_DIR, HACKSTREAM_SESSION_TOKEN_SECRET: 'x'.repeat(32) }).ingress.routesDir;
}

describe('docker-compose.yml', () => {
  it('starts Traefik with the generated configuration file and no static setting of its own', () => {
    const traefik = services.traefik;
    const flags = words(traefik).filter((w) => w.startsWith('-'));
    expect(flags).toEqual([`--configFile=${scriptArguments().output}`]);
    // Traefik also reads its static configuration from TRAEFIK_* variables.
    expect(Object.keys(traefik.environment ?? {}).filter((k) => k.startsWith('TRAEFIK_'))).toEqual([]);
    expect(traefik.depends_on['traefik-config']).toEqual({ condition: 'service_completed_successfully' });
  });

  it('generates that file with the project script, on the control-plane image, for the routes directory the processes use', () => {
    const init = services['traefik-config'];
    expect(init.image).toBe(services.api.image);
    expect(words(init)).toContain(SCRIPT);
    const { output, positionals } = scriptArguments();
    expect(output).toMatch(/^\/var\/lib\/hackstream\/traefik\/.+\.yml$/);
    expect(init.volumes.some((v: string) => output!.startsWith(`${v.split(':')[1]}/`) && !v.endsWith(':ro'))).toBe(true);
    expect(positionals).toEqual([`:${compose['x-hackstream-env'].HACKSTREAM_PUBLIC_PORT}`, routesDir()]);
    expect(services.traefik.volumes.some((v: string) => output!.startsWith(`${v.split(':')[1]}/`))).toBe(true);
  });

  it('lets the API write its router into the routes directory, after it is prepared', () => {
    const api = services.api;
    expect(api.volumes).toContain(`${routesDir()}:${routesDir()}`);
    expect(api.depends_on['traefik-config']).toEqual({ condition: 'service_completed_successfully' });
  });

  it("has the script write the generator's output to the file", () => {
    const { positionals } = scriptArguments();
    const output = path.join(tmp, 'traefik', 'traefik.yml');
    const tsx = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
    execFileSync(tsx, [path.join(REPO_ROOT, 'scripts', 'traefik-static-config.ts'), '--output', output, ...positionals], { stdio: 'pipe' });
    const [httpsAddress, dir] = positionals as [string, string];
    expect(parse(readFileSync(output, 'utf8'))).toEqual(traefikStaticConfig({ httpsAddress, routesDir: dir }));
  }, 30_000);
});
