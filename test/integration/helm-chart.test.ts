/**
 * The Helm chart (deploy/helm/hackstream) against a real Kubernetes control plane (etcd,
 * kube-apiserver; test/support/kube-control-plane.ts): `helm lint` and `helm template` with the
 * default and the production values, every rendered object sent to the API server as a
 * server-side dry run (dryRun=All, fieldValidation=Strict: unknown or misplaced fields are errors,
 * admission runs), and the worker's RBAC checked with SubjectAccessReviews once the chart's
 * service accounts, Role and RoleBinding exist for real: it may manage pods in the sessions
 * namespace and nothing anywhere else. cert-manager is not installed here: its Certificate
 * resource is a stand-in CustomResourceDefinition (any spec), so for that object only the
 * envelope is checked.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import https from 'node:https';
import path from 'node:path';
import { promisify } from 'node:util';
import { AuthorizationV1Api, CoreV1Api, KubeConfig, type V1ResourceAttributes } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { appCatalogSchema } from '../../core/app-catalog.js';
import { FileCertificateAuthority } from '../../core/certificate-authority.js';
import { createLogger } from '../../core/logger.js';
import { CA_SECRET_KEYS, ensureCaSecret } from '../../worker/ca-secret.js';
import { KUBE_TOOLS_BIN, startKubeControlPlane, type KubeControlPlane } from '../support/kube-control-plane.js';
import { REPO_ROOT } from '../support/paths.js';

const CHART = path.join(REPO_ROOT, 'deploy', 'helm', 'hackstream');
const HELM = path.join(KUBE_TOOLS_BIN, 'helm');
const RELEASE = 'hs';
const NAMESPACE = 'hackstream';
const SESSIONS = `${NAMESPACE}-sessions`;
const WORKER = `system:serviceaccount:${NAMESPACE}:${RELEASE}-hackstream-worker`;
const API = `system:serviceaccount:${NAMESPACE}:${RELEASE}-hackstream-api`;
const PREPARE = `system:serviceaccount:${NAMESPACE}:${RELEASE}-hackstream-prepare`;

interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
}

const run = promisify(execFile);
const helm = (...args: string[]) => run(HELM, args, { cwd: CHART, env: { ...process.env, HELM_CACHE_HOME: '/tmp/hs-helm-cache', HELM_CONFIG_HOME: '/tmp/hs-helm-config' } });

async function render(values: string[]): Promise<KubeObject[]> {
  const { stdout } = await helm('template', RELEASE, '.', '--namespace', NAMESPACE, ...values.flatMap((v) => ['-f', v]));
  return parseAllDocuments(stdout)
    .map((doc) => doc.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);
}

let cp: KubeControlPlane;
let request: (method: string, urlPath: string, body?: unknown) => Promise<{ status: number; body: any; warnings: string[] }>;

/** Where an object of this kind is created: the API server's discovery gives the resource's name and scope. */
const discovery = new Map<string, Array<{ name: string; kind: string; namespaced: boolean }>>();
async function collectionPath(o: KubeObject): Promise<string> {
  const base = o.apiVersion.includes('/') ? `/apis/${o.apiVersion}` : `/api/${o.apiVersion}`;
  if (!discovery.has(base)) {
    const res = await request('GET', base);
    if (res.status !== 200) throw new Error(`no API ${o.apiVersion} on the server: ${res.status} ${JSON.stringify(res.body)}`);
    discovery.set(base, res.body.resources);
  }
  const resource = discovery.get(base)!.find((r) => r.kind === o.kind && !r.name.includes('/'));
  if (!resource) throw new Error(`the server has no ${o.kind} in ${o.apiVersion}`);
  return resource.namespaced ? `${base}/namespaces/${o.metadata.namespace ?? NAMESPACE}/${resource.name}` : `${base}/${resource.name}`;
}

/** A server-side dry run of creating each object; returns what went wrong, one line each. */
async function dryRun(objects: KubeObject[]): Promise<string[]> {
  const problems: string[] = [];
  for (const o of objects) {
    const res = await request('POST', `${await collectionPath(o)}?dryRun=All&fieldValidation=Strict`, o);
    if (res.status !== 201) problems.push(`${o.kind} ${o.metadata.name}: ${res.status} ${res.body?.message ?? JSON.stringify(res.body)}`);
    for (const w of res.warnings) problems.push(`${o.kind} ${o.metadata.name}: warning ${w}`);
  }
  return problems;
}

beforeAll(async () => {
  cp = await startKubeControlPlane();
  const token = cp.config.getCurrentUser()!.token!;
  const ca = readFileSync(cp.config.getCurrentCluster()!.caFile!);
  request = (method, urlPath, body) =>
    new Promise((resolve, reject) => {
      const req = https.request(`${cp.server}${urlPath}`, { method, ca, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          const warnings = ([] as string[]).concat(res.headers['warning'] ?? []).flatMap((w) => w.split(/,(?=\s*\d{3} )/)).map((w) => w.trim()).filter(Boolean);
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null, warnings });
        });
      });
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  await cp.createNamespace(NAMESPACE);
  // Stands in for cert-manager's CustomResourceDefinition (not installed here): any spec.
  const crd = await request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'certificates.cert-manager.io' },
    spec: {
      group: 'cert-manager.io',
      scope: 'Namespaced',
      names: { plural: 'certificates', singular: 'certificate', kind: 'Certificate' },
      versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
    },
  });
  expect(crd.status, JSON.stringify(crd.body)).toBe(201);
}, 180_000);

afterAll(async () => cp?.stop());

describe('the Helm chart', () => {
  it('lints clean with the default and the production values', async () => {
    for (const values of [[], ['values-production.yaml']]) {
      const { stdout } = await helm('lint', '.', '--strict', ...values.flatMap((v) => ['-f', v]));
      expect(stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    }
  });

  it('refuses production values that name no Redis or Temporal', async () => {
    const missing = await helm('template', RELEASE, '.', '--set', 'bundled.redis=false').then(
      () => '',
      (err: { stderr: string }) => err.stderr,
    );
    expect(missing).toMatch(/redis\.address is required without bundled\.redis/);
  });

  it('renders objects the API server accepts as they are, with the default values', async () => {
    const objects = await render([]);
    expect(objects.map((o) => o.kind).sort()).toEqual(
      expect.arrayContaining(['Deployment', 'HorizontalPodAutoscaler', 'Ingress', 'Job', 'Namespace', 'NetworkPolicy', 'Role', 'RoleBinding', 'Secret', 'ServiceAccount', 'StatefulSet']),
    );
    // The sessions' namespace is made for real (the objects in it need it); the rest, dry.
    for (const ns of objects.filter((o) => o.kind === 'Namespace')) expect((await request('POST', '/api/v1/namespaces', ns)).status).toBe(201);
    expect(await dryRun(objects.filter((o) => o.kind !== 'Namespace'))).toEqual([]);
  });

  it('renders objects the API server accepts as they are, with the production values', async () => {
    const objects = await render(['values-production.yaml']);
    const kinds = objects.map((o) => o.kind);
    // No bundled services and no generated secret: they come from outside.
    expect(kinds).not.toContain('StatefulSet');
    expect(kinds).not.toContain('Secret');
    expect(kinds).toContain('Certificate');
    expect(await dryRun(objects.filter((o) => o.kind !== 'Namespace'))).toEqual([]);
    // Every container runs as the hardened pods do.
    for (const d of objects.filter((o): o is KubeObject & { spec: any } => o.kind === 'Deployment' || o.kind === 'Job')) {
      const pod = d.spec.template.spec;
      expect(pod.securityContext, d.metadata.name).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      for (const c of pod.containers) expect(c.securityContext, `${d.metadata.name}/${c.name}`).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
      // Secrets by reference only.
      for (const e of pod.containers.flatMap((c: any) => c.env ?? [])) {
        if (/SECRET|PASSWORD|DB_URL/.test(e.name)) expect(e.valueFrom?.secretKeyRef, `${d.metadata.name} ${e.name}`).toBeDefined();
      }
    }
  });

  it("passes sessions.memoryMerge and sessions.userNamespaces to the worker: merging off, user namespaces on, unless the operator says otherwise", async () => {
    const envOf = (objects: KubeObject[], name: string) =>
      (objects.find((o) => o.kind === 'Deployment' && o.metadata.name === `${RELEASE}-hackstream-worker`) as any).spec.template.spec.containers[0].env.find(
        (e: { name: string }) => e.name === name,
      )?.value;
    for (const values of [[], ['values-production.yaml']]) {
      const objects = await render(values);
      expect(envOf(objects, 'HACKSTREAM_SESSION_MEMORY_MERGE')).toBe('off');
      expect(envOf(objects, 'HACKSTREAM_KUBE_USER_NAMESPACES')).toBe('on');
    }
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-helm-values-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(path.join(dir, 'switched.yaml'), 'sessions:\n  memoryMerge: true\n  userNamespaces: false\n');
    const switched = await render([path.join(dir, 'switched.yaml')]);
    expect(envOf(switched, 'HACKSTREAM_SESSION_MEMORY_MERGE')).toBe('on');
    expect(envOf(switched, 'HACKSTREAM_KUBE_USER_NAMESPACES')).toBe('off');
  });

  it('takes the app catalog of sessions.apps, with the images the cluster pulls: a ConfigMap only the API and the worker mount', async () => {
    const shipped = JSON.parse(readFileSync(path.join(REPO_ROOT, 'core/apps.json'), 'utf8')) as Record<string, { image: string }>;
    const apps = Object.fromEntries(Object.entries(shipped).map(([name, app]) => [name, { ...app, image: `registry.example.org/${app.image.replace(':latest', ':0.1.0')}` }]));
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-helm-values-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(path.join(dir, 'apps.yaml'), `sessions:\n  apps: ${JSON.stringify(apps)}\n`);
    const objects = await render([path.join(dir, 'apps.yaml')]);
    const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === `${RELEASE}-hackstream-apps`) as (KubeObject & { data: Record<string, string> }) | undefined;
    // What the API and the worker read at their start is a catalog they take, with the images asked for.
    const catalog = appCatalogSchema.parse(JSON.parse(configMap?.data['apps.json'] ?? 'null'));
    expect(catalog['firefox']?.image).toBe('registry.example.org/hackstream/session-firefox:0.1.0');
    const pods = objects.filter((o) => o.kind === 'Deployment' || o.kind === 'Job').map((o) => [o.metadata.name, (o as any).spec.template.spec] as const);
    for (const [name, pod] of pods) {
      const env = Object.fromEntries((pod.containers[0].env ?? []).map((e: { name: string; value?: string }) => [e.name, e.value]));
      const mounted = (pod.volumes ?? []).some((v: { configMap?: { name: string } }) => v.configMap?.name === configMap!.metadata.name);
      // The preparation is a hook that runs before the ConfigMap exists, and needs no catalog.
      const wanted = name === `${RELEASE}-hackstream-api` || name === `${RELEASE}-hackstream-worker`;
      expect({ name, catalog: env['HACKSTREAM_APP_CATALOG'], mounted }).toEqual({ name, catalog: wanted ? '/etc/hackstream/apps/apps.json' : undefined, mounted: wanted });
    }
    expect(await dryRun(objects.filter((o) => o.kind !== 'Namespace'))).toEqual([]);
    // Without it, the catalog shipped in the image: no ConfigMap, no variable.
    expect((await render([])).some((o) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-apps'))).toBe(false);
  });

  it("lets the worker manage sessions in the sessions' namespace and nothing anywhere else", async () => {
    // The chart's service accounts and the worker's Role and binding, created for real.
    const rbac = (await render([])).filter((o) => ['ServiceAccount', 'Role', 'RoleBinding'].includes(o.kind));
    expect(rbac.map((o) => `${o.kind} ${o.metadata.name}`).sort()).toEqual(
      [
        `Role ${RELEASE}-hackstream-prepare`,
        `Role ${RELEASE}-hackstream-worker`,
        `RoleBinding ${RELEASE}-hackstream-prepare`,
        `RoleBinding ${RELEASE}-hackstream-worker`,
        `ServiceAccount ${RELEASE}-hackstream-api`,
        `ServiceAccount ${RELEASE}-hackstream-prepare`,
        `ServiceAccount ${RELEASE}-hackstream-worker`,
      ].sort(),
    );
    for (const o of rbac) {
      const res = await request('POST', await collectionPath(o), o);
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    }
    const authz = cp.config.makeApiClient(AuthorizationV1Api);
    const may = async (user: string, attributes: V1ResourceAttributes) => {
      const review = await authz.createSubjectAccessReview({
        body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user, groups: ['system:serviceaccounts', `system:serviceaccounts:${NAMESPACE}`, 'system:authenticated'], resourceAttributes: attributes } },
      });
      return review.status?.allowed ?? false;
    };
    const allowed: V1ResourceAttributes[] = [
      { namespace: SESSIONS, verb: 'create', resource: 'pods' },
      { namespace: SESSIONS, verb: 'delete', resource: 'pods' },
      { namespace: SESSIONS, verb: 'create', resource: 'pods', subresource: 'exec' },
      { namespace: SESSIONS, verb: 'patch', resource: 'pods', subresource: 'resize' },
      { namespace: SESSIONS, verb: 'patch', group: 'networking.k8s.io', resource: 'networkpolicies' },
      { namespace: SESSIONS, verb: 'create', resource: 'secrets' },
      { namespace: SESSIONS, verb: 'create', resource: 'services' },
      { namespace: SESSIONS, verb: 'create', resource: 'persistentvolumeclaims' },
      { namespace: SESSIONS, verb: 'create', group: 'networking.k8s.io', resource: 'networkpolicies' },
      { namespace: SESSIONS, verb: 'create', group: 'traefik.io', resource: 'ingressroutes' },
      { namespace: SESSIONS, verb: 'delete', group: 'traefik.io', resource: 'ingressroutetcps' },
      { namespace: SESSIONS, verb: 'update', group: 'traefik.io', resource: 'middlewares' },
      { namespace: SESSIONS, verb: 'create', group: 'traefik.io', resource: 'serverstransports' },
    ];
    for (const a of allowed) expect(await may(WORKER, a), JSON.stringify(a)).toBe(true);
    const denied: V1ResourceAttributes[] = [
      // Nothing cluster-wide.
      { verb: 'list', resource: 'pods' },
      { verb: 'list', resource: 'nodes' },
      { verb: 'create', resource: 'namespaces' },
      { verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'clusterroles' },
      { verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'clusterrolebindings' },
      // Nothing in any other namespace, its own included.
      { namespace: NAMESPACE, verb: 'create', resource: 'pods' },
      { namespace: NAMESPACE, verb: 'get', resource: 'secrets' },
      { namespace: NAMESPACE, verb: 'create', group: 'traefik.io', resource: 'middlewares' },
      { namespace: 'kube-system', verb: 'get', resource: 'secrets' },
      { namespace: 'default', verb: 'create', resource: 'pods' },
      // Nothing it does not use.
      { namespace: SESSIONS, verb: 'patch', resource: 'pods' },
      { namespace: SESSIONS, verb: 'deletecollection', resource: 'secrets' },
      // Nor its own powers in the sessions' namespace.
      { namespace: SESSIONS, verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'roles' },
      { namespace: SESSIONS, verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'rolebindings' },
    ];
    for (const a of denied) expect(await may(WORKER, a), JSON.stringify(a)).toBe(false);
    // The preparation's account may make the CA's Secret and read that one back, nothing else.
    const caSecret = `${RELEASE}-hackstream-ca`;
    expect(await may(PREPARE, { namespace: NAMESPACE, verb: 'create', resource: 'secrets' })).toBe(true);
    expect(await may(PREPARE, { namespace: NAMESPACE, verb: 'get', resource: 'secrets', name: caSecret })).toBe(true);
    for (const a of [
      { namespace: NAMESPACE, verb: 'get', resource: 'secrets', name: RELEASE + '-hackstream' },
      { namespace: NAMESPACE, verb: 'list', resource: 'secrets' },
      { namespace: NAMESPACE, verb: 'update', resource: 'secrets', name: caSecret },
      { namespace: NAMESPACE, verb: 'create', resource: 'pods' },
      { namespace: SESSIONS, verb: 'create', resource: 'secrets' },
      { verb: 'list', resource: 'secrets' },
    ] satisfies V1ResourceAttributes[]) {
      expect(await may(PREPARE, a), JSON.stringify(a)).toBe(false);
    }
    // The API's account has no rights in the sessions' namespace at all.
    for (const resource of ['pods', 'secrets', 'services']) expect(await may(API, { namespace: SESSIONS, verb: 'create', resource })).toBe(false);
    // Only the worker's pods get a token for the API server.
    const core = cp.config.makeApiClient(CoreV1Api);
    expect((await core.readNamespacedServiceAccount({ namespace: NAMESPACE, name: `${RELEASE}-hackstream-worker` })).automountServiceAccountToken).toBe(true);
    expect((await core.readNamespacedServiceAccount({ namespace: NAMESPACE, name: `${RELEASE}-hackstream-api` })).automountServiceAccountToken).toBe(false);
  });

  // After the RBAC test, which made the chart's accounts and roles for real.
  it("keeps the HackStream CA in a Secret the preparation makes once with its account's token: name-constrained, kept as it is afterwards", async () => {
    const core = cp.config.makeApiClient(CoreV1Api);
    // The preparation Job's credentials, as its pod would get them.
    const { status } = await core.createNamespacedServiceAccountToken({ namespace: NAMESPACE, name: `${RELEASE}-hackstream-prepare`, body: { spec: { audiences: [], expirationSeconds: 600 } } });
    const asPrepare = new KubeConfig();
    asPrepare.loadFromOptions({
      clusters: [{ name: 'test', server: cp.server, caFile: cp.caFile }],
      users: [{ name: 'prepare', token: status!.token }],
      contexts: [{ name: 'test', cluster: 'test', user: 'prepare' }],
      currentContext: 'test',
    });
    const where = { namespace: NAMESPACE, name: `${RELEASE}-hackstream-ca` };
    const ingress = { publicHost: 'hackstream.example.org', domain: 'hackstream.example.org' };
    const logger = createLogger({ service: 'helm-test', level: 'error', json: false });
    expect(await ensureCaSecret(asPrepare, where, ingress, logger)).toEqual({ created: true });
    const made = await core.readNamespacedSecret(where);
    const pem = (key: string) => Buffer.from(made.data![key]!, 'base64').toString('utf8');
    expect(pem(CA_SECRET_KEYS.key)).toMatch(/PRIVATE KEY/);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-helm-ca-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(path.join(dir, 'ca.pem'), pem(CA_SECRET_KEYS.cert));
    writeFileSync(path.join(dir, 'ca-key.pem'), pem(CA_SECRET_KEYS.key), { mode: 0o600 });
    expect(await new FileCertificateAuthority(path.join(dir, 'ca.pem'), path.join(dir, 'ca-key.pem'), { dnsNames: [], ipAddresses: [] }).isNameConstrained()).toBe(true);
    // A second install's preparation keeps it: devices pin its fingerprint.
    expect(await ensureCaSecret(asPrepare, where, ingress, logger)).toEqual({ created: false });
    expect((await core.readNamespacedSecret(where)).data).toEqual(made.data);
    // A Secret of that name that is not a CA is not taken for one.
    const other = { namespace: NAMESPACE, name: 'not-a-ca' };
    await core.createNamespacedSecret({ namespace: NAMESPACE, body: { metadata: { name: other.name }, stringData: { 'ca.pem': 'x' } } });
    await expect(ensureCaSecret(cp.config, other, ingress, logger)).rejects.toThrow(/exists without ca-key\.pem: it is not a HackStream CA/);
  });
});
