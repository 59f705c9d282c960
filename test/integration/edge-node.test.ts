/**
 * An edge node end to end, against the real stack: enrolled and approved with the real command,
 * then `hackstream-node run` (a process) reaches Temporal only through the node gateway with its
 * certificate, tells the API it is alive with its signed token (no database, no Redis of its
 * own), and keeps its tunnel up. A session asking for the node's label is placed there: its key
 * is made on the node and certified on the control queue, its container starts on the node's
 * engine, its routes go through the tunnel, and Chromium shows its page through the ingress.
 * Stopped, its container goes; the node revoked, its tunnel and Temporal connections are closed
 * and its process stops.
 *
 * The node runs in the host's network namespace on the host's engine here; the second-engine
 * tests show a node on an engine and a network of its own.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadWorkerConfig } from '../../core/config.js';
import { createLogger } from '../../core/logger.js';
import { nodeCertificateAuthority } from '../../core/node-identity.js';
import { NodeRegistry } from '../../core/node-registry.js';
import { TunnelHostKey } from '../../core/node-tunnel.js';
import { migrateToLatest, openDatabase, type Database } from '../../core/db/orm.js';
import { admitsNode, gatewayCredentials } from '../../node-gateway/gateway-admission.js';
import { NodeGateway } from '../../node-gateway/node-gateway.js';
import { TunnelSshd } from '../../node-gateway/tunnel-sshd.js';
import { tunnelOf } from '../../worker/node-tunnel.js';
import { createSessionWorker, type SessionWorker } from '../../worker/session-worker.js';
import { installTemporalRuntime } from '../../worker/temporal-runtime.js';
import { startApiOn, type ApiUnderTest } from '../support/api-under-test.js';
import { launchChromium, openSessionWindow, type TestBrowser } from '../support/browser.js';
import { sessionContainers } from '../support/docker.js';
import { nodeCli, nodeEnroller } from '../support/enrolled-node.js';
import { workflowsEntry } from '../support/paths.js';
import { freePort } from '../support/ports.js';
import { PAGE_COLOUR, serveTestPage, type TestPage } from '../support/test-page.js';
import { until } from '../support/until.js';
import { windowShows } from '../support/xpra-page.js';

const stack = inject('stack');
const logger = createLogger({ level: 'error', service: 'edge-node-test', json: false });
const dbDir = mkdtempSync(path.join(os.tmpdir(), 'hs-edge-db-'));
const dirs: string[] = [dbDir];
let common: Record<string, string>;
let db: Database;
let alpha: SessionWorker;
let gateway: NodeGateway;
let sshd: TunnelSshd;
let t: ApiUnderTest;
let chromium: TestBrowser;
let browser: Browser;
let page: TestPage;

const refused = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.on('error', () => resolve(true));
  });

beforeAll(async () => {
  const gatewayPort = await freePort();
  common = {
    ...stack.env,
    HACKSTREAM_TASK_QUEUE: `hs-edge-${process.pid}`,
    HACKSTREAM_DB_PATH: path.join(dbDir, 'edge.sqlite'),
    HACKSTREAM_NODE_HEARTBEAT_SECONDS: '1',
    HACKSTREAM_WORKER_METRICS_PORT: '0',
    HACKSTREAM_NODE_GATEWAY_ADDRESS: `127.0.0.1:${gatewayPort}`,
  };
  installTemporalRuntime(logger);
  const alphaConfig = loadWorkerConfig({ ...common, HACKSTREAM_NODE_ID: 'alpha' });
  db = await openDatabase(alphaConfig.db);
  await migrateToLatest(db, alphaConfig.db.driver);
  alpha = await createSessionWorker({ config: alphaConfig, logger, db, workflows: { workflowsPath: workflowsEntry } });
  void alpha.run();
  t = await startApiOn(stack, common);

  // The node gateway and its tunnel sshd, as the gateway process runs them, on the test's database.
  const registry = new NodeRegistry(t.api.db);
  const sshPort = await freePort();
  const tunnelDir = mkdtempSync(path.join(os.tmpdir(), 'hs-edge-sshd-'));
  dirs.push(tunnelDir);
  sshd = new TunnelSshd({ dir: tunnelDir, port: sshPort, user: t.config.nodeAuthority.tunnel.user, hostKey: new TunnelHostKey(t.config.nodeAuthority.tunnel.hostKeyFile), registry, logger });
  await sshd.start();
  const temporal = stack.temporalAddress;
  gateway = new NodeGateway({
    listen: { host: '127.0.0.1', port: gatewayPort },
    upstreams: { h2: { host: temporal.slice(0, temporal.lastIndexOf(':')), port: Number(temporal.slice(temporal.lastIndexOf(':') + 1)) }, ssh: { host: '127.0.0.1', port: sshPort } },
    credentials: await gatewayCredentials(nodeCertificateAuthority(t.config.nodeAuthority), t.config.nodeAuthority),
    admits: admitsNode(registry),
    recheckMs: 1000,
    logger,
  });
  await gateway.start();
  page = await serveTestPage(stack.outside);
  chromium = await launchChromium({ trustCaFile: stack.caFile });
  browser = chromium.browser;
}, 300_000);

afterAll(async () => {
  await chromium?.close();
  await page?.close();
  await gateway?.close();
  await sshd?.stop();
  await t?.close();
  await alpha?.close();
  await db?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('an edge node', () => {
  it('runs a session through the gateway and its tunnel, with no database of its own, until it is revoked', async () => {
    const admin = await t.newUser('admin');
    const name = `edge-${randomBytes(3).toString('hex')}`;
    const dir = await nodeEnroller(t, admin, stack.caFile, dirs).enrolledAndApproved(name);
    await sshd.refresh();
    const { tunnel } = await tunnelOf(dir);
    const tunnelPort = Number(tunnel.listen.split(':')[1]);

    // The node's worker: its settings are its directory and its flags, no HACKSTREAM_* variable.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HACKSTREAM_')));
    const proc = nodeCli(['run', '--dir', dir, '--heartbeat-seconds', '1', '--poll-seconds', '1'], env);
    let output = '';
    proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    try {
      await until('the node running', () => (output.includes(`node ${name} running`) ? true : null), 120_000).catch((err: unknown) => {
        throw new Error(`${String(err)}\n${output}`);
      });
      // It dials the gateway twice (Temporal, its tunnel), and its heartbeats reach the registry through the API.
      await until('its tunnel', async () => ((await refused(tunnelPort)) ? null : true), 30_000);
      expect(gateway.connections()[name]).toBeGreaterThanOrEqual(2);
      const registry = new NodeRegistry(t.api.db);
      const heardAt = (await registry.get(name))!.lastHeartbeatAt!;
      await until('a later heartbeat', async () => ((await registry.get(name))!.lastHeartbeatAt! > heardAt ? true : null), 10_000);

      // A session for the node's label lands there and renders through the ingress and the tunnel.
      const user = await t.newUser();
      const created = await t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox', url: page.url, node_labels: { site: name } } });
      expect(created.status, `${JSON.stringify(created.body)}\n${output.slice(-3000)}`).toBe(201);
      const id: string = created.body.session_id;
      expect(created.body.node).toBe(name);
      expect(await sessionContainers(id)).toHaveLength(1);
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const tab = await context.newPage();
      const fresh = async () => String((await t.call('POST', `/v1/sessions/${id}/connect`, { token: user.token })).body.connect.browser.url);
      const response = await openSessionWindow(tab, created.body.connect.browser.url, fresh, { check: windowShows, arg: { title: page.title, colour: PAGE_COLOUR } });
      expect(response?.status()).toBe(200);
      // The node's session monitor saw the browser attach (it signals the workflow: active).
      await until('the session active', async () => ((await t.call('GET', `/v1/sessions/${id}`, { token: user.token })).body.state === 'active' ? true : null), 30_000);
      await context.close();

      // Stopped: the node removes its container.
      expect((await t.call('POST', `/v1/sessions/${id}/stop`, { token: user.token })).status).toBe(200);
      await until('the container removed', async () => ((await sessionContainers(id)).length === 0 ? true : null), 60_000);

      // Revoked: its tunnel and Temporal connections close within seconds, and it stops.
      expect((await t.call('POST', `/v1/nodes/${name}/revoke`, { token: admin.token })).status).toBe(200);
      await until('its connections closed', async () => ((gateway.connections()[name] ?? 0) === 0 && (await refused(tunnelPort)) ? true : null), 30_000);
      expect(await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running'), 60_000))])).not.toBe('still running');
    } finally {
      proc.kill('SIGTERM');
    }
  }, 300_000);
});
