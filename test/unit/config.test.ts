import { describe, expect, it } from 'vitest';
import { ConfigError, loadApiConfig, loadCaStoreConfig, loadWorkerConfig } from '../../core/config.js';

const secrets = { HACKSTREAM_JWT_SECRET: 'x'.repeat(40), HACKSTREAM_SESSION_TOKEN_SECRET: 'y'.repeat(40), HACKSTREAM_SECRET_KEY: 'z'.repeat(40) };

describe('configuration', () => {
  it('has working defaults: SQLite under the data directory, local Redis, Temporal and ingress', () => {
    const c = loadWorkerConfig(secrets);
    expect(c.db.driver).toBe('sqlite');
    expect(c.db.path).toMatch(/\.data\/hackstream\.sqlite$/);
    expect(c.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(c.temporal).toEqual({ address: '127.0.0.1:7233', namespace: 'default', taskQueue: 'hackstream-sessions' });
    expect(c.ingress).toMatchObject({
      domain: 'hackstream.localhost',
      publicHost: 'localhost',
      publicPort: 8443,
      ingressAddress: { host: '127.0.0.1', port: 8443 },
      apiUpstream: 'http://127.0.0.1:8080',
    });
    expect(c.ingress.caCertFile).toMatch(/\.data\/ca\/ca\.pem$/);
    expect(c.ingress.caKeyFile).toMatch(/\.data\/ca\/ca-key\.pem$/);
  });

  it('names the variable that is wrong', () => {
    expect(() => loadApiConfig({ ...secrets, HACKSTREAM_API_PORT: 'eighty' })).toThrow(/HACKSTREAM_API_PORT/);
    expect(() => loadApiConfig({ ...secrets, HACKSTREAM_JWT_SECRET: 'short' })).toThrow(/HACKSTREAM_JWT_SECRET/);
    expect(() => loadApiConfig({ HACKSTREAM_SESSION_TOKEN_SECRET: secrets.HACKSTREAM_SESSION_TOKEN_SECRET })).toThrow(ConfigError);
    expect(() => loadWorkerConfig({})).toThrow(/HACKSTREAM_SESSION_TOKEN_SECRET/);
    expect(() => loadWorkerConfig({ ...secrets, HACKSTREAM_DOMAIN: 'not a domain' })).toThrow(/HACKSTREAM_DOMAIN/);
  });

  it('refuses, in production, a Redis URL without a password, and never repeats the URL', () => {
    const production = { ...secrets, HACKSTREAM_ENV: 'production' };
    expect(() => loadWorkerConfig({ ...production, HACKSTREAM_REDIS_URL: 'redis://127.0.0.1:6379' })).toThrow(/HACKSTREAM_REDIS_URL: must carry a user and password/);
    expect(() => loadApiConfig({ ...production, HACKSTREAM_REDIS_URL: 'redis://hackstream-api@127.0.0.1:6379' })).toThrow(/HACKSTREAM_REDIS_URL/);
    const url = 'redis://hackstream-api:Secret0123456789Secret0123456789@127.0.0.1:6379';
    expect(loadApiConfig({ ...production, HACKSTREAM_REDIS_URL: url }).redisUrl).toBe(url);
    expect(() => loadApiConfig({ ...production, HACKSTREAM_REDIS_URL: `${url}:not-a-port` })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('Secret0123456789') }),
    );
  });

  it('reads the warm pools, and refuses a pool it could not run', () => {
    const image = 'hackstream/session-firefox:latest';
    expect(loadWorkerConfig(secrets).pool).toEqual({ pools: [{ app: 'firefox', quality: 'auto', size: 2, image }], intervalSeconds: 30, maxAgeSeconds: 3600 });
    expect(loadWorkerConfig({ ...secrets, HACKSTREAM_POOL: 'off' }).pool.pools).toEqual([]);
    expect(loadApiConfig({ ...secrets, HACKSTREAM_POOL: 'firefox:low:3, firefox:high:0' }).pool.pools).toEqual([{ app: 'firefox', quality: 'low', size: 3, image }]);
    for (const bad of ['chrome:auto:2', 'firefox:ultra:2', 'firefox:auto', 'firefox:auto:-1', 'firefox:auto:2,firefox:auto:1', 'firefox:auto:2:9']) {
      expect(() => loadWorkerConfig({ ...secrets, HACKSTREAM_POOL: bad }), bad).toThrow(/HACKSTREAM_POOL/);
    }
    expect(() => loadWorkerConfig({ ...secrets, HACKSTREAM_TASK_QUEUE: 'queue with spaces' })).toThrow(/HACKSTREAM_TASK_QUEUE/);
  });

  it('reads the session node this worker is, and refuses a name or label it could not use', () => {
    const defaults = loadWorkerConfig(secrets).node;
    expect(defaults).toMatchObject({ id: 'local', labels: {}, heartbeatSeconds: 10 });
    expect(loadWorkerConfig(secrets).placement).toEqual({ strategy: 'binpack', aliveWithinSeconds: 30 });
    // The API claims warm containers in the order the workers place sessions.
    expect(loadApiConfig({ ...secrets, HACKSTREAM_PLACEMENT: 'spread' }).placement.strategy).toBe('spread');
    expect(defaults.capacity.maxSessions).toBe(100);
    expect(defaults.capacity.memoryMb).toBeGreaterThanOrEqual(256);
    const edgeConfig = loadWorkerConfig({
      ...secrets,
      HACKSTREAM_NODE_ID: 'edge-1',
      HACKSTREAM_NODE_LABELS: 'gpu=true, region=eu-west',
      HACKSTREAM_NODE_MEMORY_MB: '4096',
      HACKSTREAM_NODE_CPUS: '2.5',
      HACKSTREAM_NODE_HEARTBEAT_SECONDS: '5',
      HACKSTREAM_PLACEMENT: 'spread',
    });
    expect(edgeConfig.placement).toEqual({ strategy: 'spread', aliveWithinSeconds: 15 });
    expect(edgeConfig.node).toEqual({
      id: 'edge-1',
      labels: { gpu: 'true', region: 'eu-west' },
      capacity: { memoryMb: 4096, cpus: 2.5, maxSessions: 100 },
      heartbeatSeconds: 5,
    });
    for (const bad of ['Edge', '-edge', 'edge_1', 'x'.repeat(64)]) {
      expect(() => loadWorkerConfig({ ...secrets, HACKSTREAM_NODE_ID: bad }), bad).toThrow(/HACKSTREAM_NODE_ID/);
    }
    for (const bad of ['gpu', 'gpu=', 'gpu=true=yes', 'gpu=true,gpu=false', 'a b=c']) {
      expect(() => loadWorkerConfig({ ...secrets, HACKSTREAM_NODE_LABELS: bad }), bad).toThrow(/HACKSTREAM_NODE_LABELS/);
    }
    expect(() => loadWorkerConfig({ ...secrets, HACKSTREAM_PLACEMENT: 'random' })).toThrow(/HACKSTREAM_PLACEMENT: must be one of binpack, spread/);
  });

  it('reads which runtime a worker’s node runs sessions on and the cluster’s settings, and refuses names Kubernetes would', () => {
    const defaults = loadWorkerConfig(secrets);
    expect(defaults.runtime).toBe('docker');
    expect(defaults.kube).toMatchObject({ userNamespaces: true, namespace: 'hackstream-sessions', ingress: { namespace: 'traefik', podLabels: { 'app.kubernetes.io/name': 'traefik' } } });
    const kube = loadWorkerConfig({
      ...secrets,
      HACKSTREAM_RUNTIME: 'kubernetes',
      HACKSTREAM_KUBE_NAMESPACE: 'hs-sessions',
      HACKSTREAM_KUBE_INGRESS_NAMESPACE: 'ingress',
      HACKSTREAM_KUBE_INGRESS_POD_LABELS: 'app.kubernetes.io/name=traefik, tier=edge',
      HACKSTREAM_KUBE_NODE_NAME: 'worker-1.example.org',
      HACKSTREAM_KUBE_NODE_LOST_AFTER_SECONDS: '20',
      HACKSTREAM_KUBE_API_UPSTREAM: 'http://hackstream-api.hs.svc:80',
      HACKSTREAM_KUBE_USER_NAMESPACES: 'off',
      KUBECONFIG: '/etc/hackstream/kubeconfig',
    });
    expect(kube.runtime).toBe('kubernetes');
    expect(kube.kube).toEqual({
      namespace: 'hs-sessions',
      ingress: { namespace: 'ingress', podLabels: { 'app.kubernetes.io/name': 'traefik', tier: 'edge' } },
      nodeName: 'worker-1.example.org',
      profileStorageClass: undefined,
      nodeLostAfterSeconds: 20,
      userNamespaces: false,
      apiUpstream: 'http://hackstream-api.hs.svc:80',
      kubeconfigFile: '/etc/hackstream/kubeconfig',
    });
    // What keeping the CA in a Secret reads: nothing of the database, Redis or Temporal, not even their secrets.
    expect(loadCaStoreConfig({ HACKSTREAM_ENV: 'production', HACKSTREAM_KUBE_CA_STORE: 'hackstream/hs-hackstream-ca', HACKSTREAM_PUBLIC_HOST: 'hs.example.org', HACKSTREAM_DOMAIN: 'hs.example.org' })).toMatchObject({
      store: { namespace: 'hackstream', name: 'hs-hackstream-ca' },
      ingress: { publicHost: 'hs.example.org', domain: 'hs.example.org' },
    });
    expect(() => loadCaStoreConfig({})).toThrow(/HACKSTREAM_KUBE_CA_STORE: required/);
    for (const bad of ['hs-ca', 'a/b/c', 'Hack/ca', '/ca']) {
      expect(() => loadCaStoreConfig({ HACKSTREAM_KUBE_CA_STORE: bad }), bad).toThrow(/HACKSTREAM_KUBE_CA_STORE: must be namespace\/name/);
    }
    expect(() => loadWorkerConfig({ ...secrets, HACKSTREAM_RUNTIME: 'podman' })).toThrow(/HACKSTREAM_RUNTIME/);
    expect(() => loadWorkerConfig({ ...secrets, HACKSTREAM_KUBE_USER_NAMESPACES: 'no' })).toThrow(/HACKSTREAM_KUBE_USER_NAMESPACES/);
    // The task queue labels the cluster's objects: it must be a label's value there.
    for (const bad of ['queue-', 'q'.repeat(64)]) {
      expect(loadWorkerConfig({ ...secrets, HACKSTREAM_TASK_QUEUE: bad }).temporal.taskQueue).toBe(bad);
      expect(() => loadWorkerConfig({ ...secrets, HACKSTREAM_TASK_QUEUE: bad, HACKSTREAM_RUNTIME: 'kubernetes' }), bad).toThrow(/HACKSTREAM_TASK_QUEUE: with HACKSTREAM_RUNTIME=kubernetes/);
    }
    for (const bad of ['Sessions', 'hs_sessions', '-hs', 'x'.repeat(64)]) {
      expect(() => loadWorkerConfig({ ...secrets, HACKSTREAM_KUBE_NAMESPACE: bad }), bad).toThrow(/HACKSTREAM_KUBE_NAMESPACE/);
    }
    for (const bad of ['', 'traefik', 'a/b/c=x', 'Bad_Prefix/name=x', 'k=v,k=w', 'k=v w']) {
      expect(() => loadWorkerConfig({ ...secrets, HACKSTREAM_KUBE_INGRESS_POD_LABELS: bad }), bad).toThrow(/HACKSTREAM_KUBE_INGRESS_POD_LABELS/);
    }
    expect(() => loadWorkerConfig({ ...secrets, HACKSTREAM_KUBE_NODE_NAME: 'Node 1' })).toThrow(/HACKSTREAM_KUBE_NODE_NAME/);
  });

  it('reads a worker’s role and a remote ingress’s addresses, and refuses what it could not use', () => {
    const defaults = loadWorkerConfig(secrets);
    expect(defaults.role).toBe('all');
    expect(defaults.ingressSources).toEqual([]);
    const node = loadWorkerConfig({ ...secrets, HACKSTREAM_WORKER_ROLE: 'node', HACKSTREAM_INGRESS_SOURCES: '10.250.0.1/32, 192.0.2.0/24' });
    expect(node.role).toBe('node');
    expect(node.ingressSources).toEqual(['10.250.0.1/32', '192.0.2.0/24']);
    expect(() => loadWorkerConfig({ ...secrets, HACKSTREAM_WORKER_ROLE: 'control' })).toThrow(/HACKSTREAM_WORKER_ROLE/);
    for (const bad of ['10.250.0.1', 'any', '10.0.0.0/8 -j ACCEPT', '::1/128']) {
      expect(() => loadWorkerConfig({ ...secrets, HACKSTREAM_INGRESS_SOURCES: bad }), bad).toThrow(/HACKSTREAM_INGRESS_SOURCES/);
    }
  });

  it('merges sessions\' memory only when told to', () => {
    expect(loadWorkerConfig(secrets).memoryMerge).toBe(false);
    expect(loadWorkerConfig({ ...secrets, HACKSTREAM_SESSION_MEMORY_MERGE: 'on' }).memoryMerge).toBe(true);
    expect(loadWorkerConfig({ ...secrets, HACKSTREAM_SESSION_MEMORY_MERGE: 'off' }).memoryMerge).toBe(false);
    expect(() => loadWorkerConfig({ ...secrets, HACKSTREAM_SESSION_MEMORY_MERGE: 'yes' })).toThrow(/HACKSTREAM_SESSION_MEMORY_MERGE/);
  });

  it('keeps connect tokens at most 60 seconds', () => {
    expect(loadApiConfig(secrets).connectTokenTtlSeconds).toBe(60);
    expect(() => loadApiConfig({ ...secrets, HACKSTREAM_CONNECT_TOKEN_TTL_SECONDS: '61' })).toThrow(/HACKSTREAM_CONNECT_TOKEN_TTL_SECONDS: must be at most 60/);
  });

  it('requires a URL when PostgreSQL is selected', () => {
    expect(() => loadWorkerConfig({ ...secrets, HACKSTREAM_DB_DRIVER: 'postgresql' })).toThrow(/HACKSTREAM_DB_URL/);
    const c = loadWorkerConfig({ ...secrets, HACKSTREAM_DB_DRIVER: 'postgresql', HACKSTREAM_DB_URL: 'postgresql://u@localhost/hs' });
    expect(c.db).toMatchObject({ driver: 'postgresql', url: 'postgresql://u@localhost/hs' });
  });

  it('parses session limits and timeouts', () => {
    const c = loadApiConfig({ ...secrets, HACKSTREAM_IDLE_TIMEOUT_SECONDS: '30', HACKSTREAM_SESSION_CPUS: '0.5' });
    expect(c.session.idleTimeoutSeconds).toBe(30);
    expect(c.session.cpus).toBe(0.5);
    expect(() => loadApiConfig({ ...secrets, HACKSTREAM_IDLE_TIMEOUT_SECONDS: '-1' })).toThrow(/HACKSTREAM_IDLE_TIMEOUT_SECONDS/);
  });

  it('takes an empty admin password as none (compose passes one once accounts exist), and refuses a short one', () => {
    expect(loadApiConfig({ ...secrets, HACKSTREAM_ADMIN_PASSWORD: '' }).admin.password).toBeUndefined();
    expect(loadApiConfig({ ...secrets, HACKSTREAM_ADMIN_PASSWORD: 'long-enough-password' }).admin.password).toBe('long-enough-password');
    expect(() => loadApiConfig({ ...secrets, HACKSTREAM_ADMIN_PASSWORD: 'short' })).toThrow(/HACKSTREAM_ADMIN_PASSWORD: must be at least 12 characters/);
  });

  it('has safe role policies by default and reads them per role', () => {
    expect(loadApiConfig(secrets).policies).toEqual({
      admin: { apps: ['firefox', 'thunderbird'], clipboard: true, fileTransfer: false, egress: [], nodeLabels: {}, maxSessions: 4, storageMb: 1024 },
      user: { apps: ['firefox', 'thunderbird'], clipboard: true, fileTransfer: false, egress: [], nodeLabels: {}, maxSessions: 2, storageMb: 1024 },
    });
    const c = loadApiConfig({ ...secrets, HACKSTREAM_ROLE_POLICIES: '{"user":{"clipboard":false,"maxDurationSeconds":600},"admin":{"fileTransfer":true}}' });
    expect(c.policies.user).toEqual({ apps: ['firefox', 'thunderbird'], clipboard: false, fileTransfer: false, egress: [], nodeLabels: {}, maxDurationSeconds: 600, maxSessions: 2, storageMb: 1024 });
    expect(c.policies.admin.fileTransfer).toBe(true);
    expect(loadApiConfig({ ...secrets, HACKSTREAM_ROLE_POLICIES: '{"user":{"nodeLabels":{"region":"eu"}}}' }).policies.user.nodeLabels).toEqual({ region: 'eu' });
    expect(() => loadApiConfig({ ...secrets, HACKSTREAM_ROLE_POLICIES: '{"user":{"nodeLabels":{"region":"e u"}}}' })).toThrow(/HACKSTREAM_ROLE_POLICIES.*not a label value/);
    expect(() => loadApiConfig({ ...secrets, HACKSTREAM_ROLE_POLICIES: '{nope' })).toThrow(/HACKSTREAM_ROLE_POLICIES: is not valid JSON/);
    expect(() => loadApiConfig({ ...secrets, HACKSTREAM_ROLE_POLICIES: '{"user":{"clipbord":true}}' })).toThrow(/HACKSTREAM_ROLE_POLICIES/);
    expect(() => loadApiConfig({ ...secrets, HACKSTREAM_ROLE_POLICIES: '{"guest":{}}' })).toThrow(/HACKSTREAM_ROLE_POLICIES/);
  });

  it('maps every setting into its section, resolving directories under the data directory', () => {
    const env = {
      ...secrets,
      HACKSTREAM_DATA_DIR: '/var/lib/hs',
      HACKSTREAM_API_HOST: '::1',
      HACKSTREAM_API_PORT: '9000',
      HACKSTREAM_CA_DIR: '/etc/hs-ca',
      HACKSTREAM_ROUTES_DIR: 'routes',
      HACKSTREAM_SESSION_FILES_DIR: 'files',
      HACKSTREAM_APT_REPO_DIR: '/srv/apt',
      HACKSTREAM_INGRESS_ADDRESS: 'traefik:443',
      HACKSTREAM_LOGIN_MAX_FAILURES_PER_ACCOUNT: '3',
      HACKSTREAM_ADMIN_USERNAME: 'root',
    };
    const w = loadWorkerConfig(env);
    expect(w.ingress).toMatchObject({
      caCertFile: '/etc/hs-ca/ca.pem',
      caKeyFile: '/etc/hs-ca/ca-key.pem',
      routesDir: '/var/lib/hs/routes',
      tlsDir: '/var/lib/hs/traefik/tls',
      ingressAddress: { host: 'traefik', port: 443 },
      apiUpstream: 'http://[::1]:9000',
    });
    expect(w.sessionFilesDir).toBe('/var/lib/hs/files');
    expect(w.db.path).toBe('/var/lib/hs/hackstream.sqlite');
    const a = loadApiConfig(env);
    expect(a).toMatchObject({ host: '::1', port: 9000, aptRepoDir: '/srv/apt', admin: { username: 'root', password: undefined } });
    expect(a.loginLimits).toEqual({ maxFailuresPerAccount: 3, maxFailuresPerAddress: 50, windowSeconds: 900 });
  });
});
