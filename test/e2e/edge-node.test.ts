/**
 * An edge node end to end, against the real stack: a site behind NAT that only dials out, a
 * second Docker engine in a network namespace that refuses every inbound connection
 * (test/support/second-engine.ts). Enrolled and approved with the real command, `hackstream-node
 * run` (a process in that namespace) reaches Temporal only through the node gateway with its
 * certificate, tells the API it is alive with its signed token (no database, no Redis, no secret
 * of the control plane), and keeps its tunnel up. It keeps a warm pool: the container's key is made
 * on the node and certified on the control queue, it starts on the node's engine, its routes go
 * through the tunnel, and its ready slot is in the control plane's Redis. A session asking for the
 * node's label takes it (its token key given by the API: the node holds no secret), Chromium shows
 * its page through the ingress and the native xpra client attaches by SNI through the same
 * tunnel, while a connection into the namespace is refused. Stopped, its container goes; the node
 * revoked, its pool is forgotten, its tunnel and Temporal connections are closed and its process
 * stops.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { Redis } from 'ioredis';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sessionLabelFilter } from '../../activities/container-labels.js';
import { loadWorkerConfig } from '../../core/config.js';
import { poolReadyKey, type WarmSlot } from '../../core/pool-store.js';
import { tunnelOf } from '../../worker/node-tunnel.js';
import { nodeFiles } from '../../worker/node-enrolment.js';
import { launchChromium, openSessionWindow, type TestBrowser } from '../support/browser.js';
import { startEdgeControlPlane, type EdgeControlPlane } from '../support/edge-control-plane.js';
import { nodeCli, nodeEnroller } from '../support/enrolled-node.js';
import { startSecondEngine, type SecondEngine } from '../support/second-engine.js';
import { startTcpRelay } from '../support/tcp-relay.js';
import { PAGE_COLOUR, serveTestPage, type TestPage } from '../support/test-page.js';
import { until } from '../support/until.js';
import { attachXpra } from '../support/xpra-client.js';
import { windowShows } from '../support/xpra-page.js';

const stack = inject('stack');
const dirs: string[] = [];
let engine: SecondEngine;
let cp: EdgeControlPlane;
let chromium: TestBrowser;
let browser: Browser;
let page: TestPage;
const closers: Array<() => Promise<void>> = [];
const redis = new Redis(String(stack.env['HACKSTREAM_REDIS_URL']));
/** A node's ready warm containers in the control plane's Redis (what the API claims from). */
const readyOn = async (node: string): Promise<WarmSlot[]> =>
  (await redis.lrange(poolReadyKey(cp.taskQueue, node, 'firefox-auto', loadWorkerConfig(stack.env).apps['firefox']!.image), 0, -1)).map((raw) => JSON.parse(raw) as WarmSlot);

/** Whether a TCP connection to host:port is refused (closed at once, as a reset does). */
const refused = (port: number, host = '127.0.0.1') =>
  new Promise<boolean>((resolve) => {
    const s = net.connect({ port, host, timeout: 5000 });
    s.on('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.on('timeout', () => {
      s.destroy();
      resolve(false);
    });
    s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });

beforeAll(async () => {
  engine = await startSecondEngine(1, { dropInbound: true });
  engine.copyImage(loadWorkerConfig(stack.env).apps['firefox']!.image);
  // The gateway on the host's end of the link, as a public address would be.
  cp = await startEdgeControlPlane(stack, engine.hostAddress);
  // The API's name (localhost) on the node, as DNS would resolve it on a real one: the ingress
  // (on the host's loopback here) reached at the host's end of the link.
  const ingress = await startTcpRelay(stack.ingressPort, '127.0.0.1', engine.hostAddress);
  closers.push(() => ingress.close());
  await engine.relayFromHost(stack.ingressPort, ingress.port);
  page = await serveTestPage(stack.outside);
  chromium = await launchChromium({ trustCaFile: stack.caFile });
  browser = chromium.browser;
}, 300_000);

afterAll(async () => {
  await chromium?.close();
  await page?.close();
  await cp?.close();
  for (const close of closers) await close();
  await engine?.remove();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  redis.disconnect();
});

describe('an edge node behind NAT', () => {
  it('runs a session through the gateway and its tunnel, with nothing of the control plane but its certificate, until it is revoked', async () => {
    const { t, gateway, sshd, registry } = cp;
    const admin = await t.newUser('admin');
    const name = `edge-${randomBytes(3).toString('hex')}`;
    const dir = await nodeEnroller(t, admin, stack.caFile, dirs, engine.inNamespace).enrolledAndApproved(name);
    await sshd.refresh();
    const { tunnel } = await tunnelOf(dir);
    const tunnelPort = Number(tunnel.listen.split(':')[1]);

    // The node: its settings are its directory and its flags, no HACKSTREAM_* variable.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HACKSTREAM_')));
    // Its certificate renewed every few seconds: the session below runs across renewals.
    const args = ['run', '--dir', dir, '--docker-socket', engine.socket, '--session-subnets', engine.sessionSubnets, '--heartbeat-seconds', '1', '--poll-seconds', '1', '--renew-seconds', '8'];
    const proc = nodeCli(args, env, engine.inNamespace);
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
      const heardAt = (await registry.get(name))!.lastHeartbeatAt!;
      await until('a later heartbeat', async () => ((await registry.get(name))!.lastHeartbeatAt! > heardAt ? true : null), 10_000);

      // Its certificate is renewed while it runs, and Temporal is reached with the new one.
      const firstCertificate = readFileSync(nodeFiles(dir).certificate, 'utf8');
      await until('a renewed certificate', () => (readFileSync(nodeFiles(dir).certificate, 'utf8') !== firstCertificate && output.includes('certificate renewed') ? true : null), 60_000);
      await until('its connections with the new certificate', () => ((gateway.connections()[name] ?? 0) >= 2 ? true : null), 30_000);

      // Nothing dials into the node: a port that listens in its namespace (the API's relay) is
      // refused from the host.
      expect(await refused(stack.ingressPort, engine.nodeAddress)).toBe(true);

      // Its warm container, on its engine, ready in the control plane's list.
      await until('a warm container on the node', async () => ((await readyOn(name)).length === 1 ? true : null), 180_000).catch((err: unknown) => {
        throw new Error(`${String(err)}\n${output.slice(-3000)}`);
      });
      const [warm] = await readyOn(name);

      // A session for the node's label takes it, and renders through the ingress and the tunnel.
      const user = await t.newUser();
      const created = await t.call('POST', '/v1/sessions', { token: user.token, body: { app: 'firefox', url: page.url, node_labels: { site: name } } });
      expect(created.status, `${JSON.stringify(created.body)}\n${output.slice(-3000)}`).toBe(201);
      const id: string = created.body.session_id;
      expect([created.body.node, created.body.start, id]).toEqual([name, 'warm', warm!.sessionId]);
      const onNode = () => engine.docker.listContainers({ all: true, filters: { label: [sessionLabelFilter(id)] } });
      expect(await onNode()).toHaveLength(1);
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const tab = await context.newPage();
      const response = await openSessionWindow(tab, created.body.connect.browser.url, { check: windowShows, arg: { title: page.title, colour: PAGE_COLOUR } });
      expect(response?.status()).toBe(200);
      // The node's session monitor saw the browser attach (it signals the workflow: active).
      await t.untilSessionState(user.token, id, 'active', 30_000);
      await context.close();
      // The native path: the xpra client by SNI through the ingress and the same tunnel.
      const { native } = (await t.call('POST', `/v1/sessions/${id}/connect`, { token: user.token })).body.connect;
      const client = attachXpra({ host: '127.0.0.1', port: stack.ingressPort, sni: native.sni, caFile: stack.caFile, username: native.username, password: native.password });
      try {
        expect(await client.attached(), client.output()).toBe(true);
      } finally {
        await client.stop();
      }
      // Still nothing dials in while the session runs.
      expect(await refused(stack.ingressPort, engine.nodeAddress)).toBe(true);

      // Stopped: the node removes its container.
      expect((await t.call('POST', `/v1/sessions/${id}/stop`, { token: user.token })).status).toBe(200);
      await until('the container removed', async () => ((await onNode()).length === 0 ? true : null), 60_000);

      // Revoked: its tunnel and Temporal connections close within seconds, and it stops.
      expect((await t.call('POST', `/v1/nodes/${name}/revoke`, { token: admin.token })).status).toBe(200);
      await until('its connections closed', async () => ((gateway.connections()[name] ?? 0) === 0 && (await refused(tunnelPort)) ? true : null), 30_000);
      // Nobody is handed a warm container of a revoked node.
      await until('its pool forgotten', async () => ((await readyOn(name)).length === 0 ? true : null), 60_000);
      expect(await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running'), 60_000))])).not.toBe('still running');
    } finally {
      proc.kill('SIGTERM');
    }
  }, 300_000);
});
