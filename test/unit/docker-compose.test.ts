/**
 * docker-compose.yml starts Traefik with the static configuration the project generates
 * (core/traefik-static-config.ts, written by a one-shot service running
 * scripts/traefik-static-config.ts), never with settings re-typed as flags that drift from it;
 * and the API can write its own router into the routes directory Traefik watches. Redis and
 * Temporal take only authenticated clients: Redis's users from the generated ACL file, each
 * process with its own; Temporal with mutual TLS.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadApiConfig, loadWorkerConfig } from '../../core/config.js';
import { JSON_ERRORS_PLUGIN } from '../../core/ingress-names.js';
import { REDIS_PASSWORD_VARIABLES, REDIS_USERS, redisAclFile } from '../../core/redis-acl.js';
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

  it("gives Traefik the repository's local plugins in ./plugins-local of its working directory", () => {
    const traefik = services.traefik;
    const mount = traefik.volumes.find((v: string) => v.startsWith('./ingress/plugins-local:'));
    expect(mount).toBe(`./ingress/plugins-local:${path.posix.join(traefik.working_dir, 'plugins-local')}:ro`);
    expect(existsSync(path.join(REPO_ROOT, 'ingress', 'plugins-local', 'src', JSON_ERRORS_PLUGIN.moduleName, '.traefik.yml'))).toBe(true);
  });

  it('runs Prometheus on the repository\'s configuration and Grafana with its data source and dashboards provisioned', () => {
    const prometheus = services.prometheus;
    const configFile = prometheus.command.find((a: string) => a.startsWith('--config.file=')).split('=')[1];
    expect(prometheus.volumes).toContain(`./deploy/prometheus:${path.posix.dirname(configFile)}:ro`);
    const listen = prometheus.command.find((a: string) => a.startsWith('--web.listen-address=')).split('=')[1];
    expect(listen).toMatch(/^127\.0\.0\.1:/); // loopback only, as the metrics it scrapes
    expect(prometheus.network_mode).toBe('host'); // the API's and the worker's metrics are on the host's loopback

    const grafana = services.grafana;
    expect(grafana.environment.GF_SERVER_HTTP_ADDR).toBe('127.0.0.1');
    expect(grafana.environment.GF_SECURITY_ADMIN_PASSWORD).toMatch(/^\$\{GRAFANA_ADMIN_PASSWORD:\?/);
    const mountOf = (source: string) => grafana.volumes.find((v: string) => v.startsWith(`${source}:`))?.split(':')[1];
    expect(mountOf('./deploy/grafana/provisioning')).toBe('/etc/grafana/provisioning');
    const provisioning = path.join(REPO_ROOT, 'deploy', 'grafana', 'provisioning');
    const [datasource] = parse(readFileSync(path.join(provisioning, 'datasources', 'prometheus.yml'), 'utf8')).datasources;
    expect(new URL(datasource.url).host).toBe(listen);
    const [provider] = parse(readFileSync(path.join(provisioning, 'dashboards', 'hackstream.yml'), 'utf8')).providers;
    expect(mountOf('./deploy/grafana/dashboards')).toBe(provider.options.path);
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

/** The compose file with YAML merge keys resolved, and `${VAR}`, `${VAR:-default}`, `${VAR:?error}` replaced from `vars` as compose would. */
function composeWith(vars: Record<string, string>): any {
  const interpolate = (value: unknown): unknown => {
    if (typeof value === 'string') return value.replace(/\$\{(\w+)(?::?([-?])([^}]*))?\}/g, (_, name: string, op?: string, arg?: string) => vars[name] ?? (op === '-' ? arg! : ''));
    if (Array.isArray(value)) return value.map(interpolate);
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v)]));
    return value;
  };
  return interpolate(parse(readFileSync(path.join(REPO_ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }));
}
const VARS = {
  POSTGRES_PASSWORD: 'pg',
  HACKSTREAM_ADMIN_PASSWORD: 'admin-password-1',
  HACKSTREAM_JWT_SECRET: 'j'.repeat(40),
  HACKSTREAM_SECRET_KEY: 'k'.repeat(40),
  HACKSTREAM_SESSION_TOKEN_SECRET: 's'.repeat(40),
  REDIS_API_PASSWORD: 'a1'.repeat(20),
  REDIS_WORKER_PASSWORD: 'w2'.repeat(20),
};
const mounts = (service: any): Map<string, string> => new Map((service.volumes ?? []).map((v: string) => [v.split(':')[1]!, v.split(':')[0]!]));

describe("docker-compose.yml's internal services", () => {
  const c = composeWith(VARS);
  const env = (name: string): Record<string, string> => c.services[name].environment;

  it('starts Redis with the ACL file the project generates, the one-shot redis-config service writes it, and no password is on a command line', () => {
    const redis = c.services.redis;
    const redisWords = words(redis);
    const aclFile = redisWords[redisWords.indexOf('--aclfile') + 1]!;
    const config = c.services['redis-config'];
    expect(words(config)).toEqual(expect.arrayContaining(['dist/scripts/redis-acl.js', '--output', aclFile]));
    expect(config.image).toBe(c.services.api.image);
    // The file is on a volume both mount: written by the one, read-only for the other.
    const volume = (service: any) => service.volumes.find((v: string) => aclFile.startsWith(`${v.split(':')[1]}/`));
    expect(volume(config).split(':')[0]).toBe(volume(redis).split(':')[0]);
    expect(volume(redis)).toMatch(/:ro$/);
    expect(redis.depends_on['redis-config']).toEqual({ condition: 'service_completed_successfully' });
    expect(Object.keys(config.environment).sort()).toEqual(Object.values(REDIS_PASSWORD_VARIABLES).sort());
    for (const service of Object.values<any>(c.services)) {
      expect(words(service).filter((w) => /requirepass|^--(user|pass)$|^auth$/i.test(w))).toEqual([]);
    }
    expect(redis.ports).toEqual(['127.0.0.1:6379:6379']);
  });

  it('has the script write the ACL file from the passwords in its environment', () => {
    const output = path.join(tmp, 'redis', 'users.acl');
    const tsx = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
    execFileSync(tsx, [path.join(REPO_ROOT, 'scripts', 'redis-acl.ts'), '--output', output], { stdio: 'pipe', env: { ...process.env, ...env('redis-config') } });
    const text = readFileSync(output, 'utf8');
    expect(text).toBe(redisAclFile({ api: VARS.REDIS_API_PASSWORD, worker: VARS.REDIS_WORKER_PASSWORD }));
    expect(text).not.toContain(VARS.REDIS_API_PASSWORD);
    expect(statSync(output).mode & 0o777).toBe(0o600);
  }, 30_000);

  it('gives the API and the worker each its own Redis user, which production requires', () => {
    const api = new URL(loadApiConfig(env('api')).redisUrl);
    const worker = new URL(loadWorkerConfig(env('worker')).redisUrl);
    expect([api.username, api.password]).toEqual([REDIS_USERS.api, VARS.REDIS_API_PASSWORD]);
    expect([worker.username, worker.password]).toEqual([REDIS_USERS.worker, VARS.REDIS_WORKER_PASSWORD]);
    expect(env('api').HACKSTREAM_ENV).toBe('production');
    expect(() => loadApiConfig({ ...env('api'), HACKSTREAM_REDIS_URL: 'redis://127.0.0.1:6379' })).toThrow(/HACKSTREAM_REDIS_URL/);
  });

  it('runs Temporal with mutual TLS, and the API, the worker and the UI present certificates from its CA', () => {
    const temporal = env('temporal');
    expect(temporal.TEMPORAL_TLS_REQUIRE_CLIENT_AUTH).toBe('true');
    const onHost = (service: string, file: string) => mounts(c.services[service]).get(file) ?? (service === 'worker' && file.startsWith('/var/lib/hackstream/') ? file : undefined);
    const clientCa = onHost('temporal', temporal.TEMPORAL_TLS_CLIENT1_CA_CERT!);
    expect(clientCa).toBe('/var/lib/hackstream/temporal-tls/ca.pem');
    for (const file of [temporal.TEMPORAL_TLS_FRONTEND_CERT!, temporal.TEMPORAL_TLS_FRONTEND_KEY!, temporal.TEMPORAL_TLS_SERVER_CA_CERT!]) {
      expect(onHost('temporal', file), file).toBeDefined();
    }
    const processes = { api: loadApiConfig(env('api')).temporal.tls, worker: loadWorkerConfig(env('worker')).temporal.tls };
    for (const [service, tls] of Object.entries(processes)) {
      expect(tls?.serverName, service).toBe(temporal.TEMPORAL_TLS_FRONTEND_SERVER_NAME);
      expect(onHost(service, tls!.caFile!), service).toBe(onHost('temporal', temporal.TEMPORAL_TLS_SERVER_CA_CERT!));
      expect(onHost(service, tls!.certFile!), service).toBe(`/var/lib/hackstream/temporal-tls/${service}.pem`);
      expect(onHost(service, tls!.keyFile!), service).toBe(`/var/lib/hackstream/temporal-tls/${service}-key.pem`);
    }
    const ui = env('temporal-ui');
    expect(ui.TEMPORAL_TLS_SERVER_NAME).toBe(temporal.TEMPORAL_TLS_FRONTEND_SERVER_NAME);
    expect(onHost('temporal-ui', ui.TEMPORAL_TLS_CA!)).toBe(clientCa);
    expect(onHost('temporal-ui', ui.TEMPORAL_TLS_CERT!)).toBeDefined();
    expect(onHost('temporal-ui', ui.TEMPORAL_TLS_KEY!)).toBeDefined();
  });
});
