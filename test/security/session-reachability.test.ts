/**
 * Issue 11, point 1: only the ingress reaches a session. A session's xpra ports (the browser
 * path's websocket and HTML5 client, the native path's TLS socket) give nothing to the host's
 * processes, to a plain container on Docker's default bridge, or to another session: no HTML5
 * page, no websocket upgrade, no TLS hello. Through the ingress, with a token, the page loads.
 * The host firewall's rule is what decides: a host process with the ingress's group gets in.
 */
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { XPRA_SSL_PORT, XPRA_WS_PORT } from '../../core/ingress-names.js';
import { startApiUnderTest, type ApiUnderTest } from '../support/api-under-test.js';
import { canConnectFrom, docker, sessionContainers } from '../support/docker.js';
import { httpsRequest } from '../support/https-client.js';
import { ingressGid } from '../support/traefik.js';

const stack = inject('stack');
let t: ApiUnderTest;
let user: { token: string };
const sessions: Array<{ id: string; containerId: string; ip: string; url: string }> = [];

async function startSession(app = 'firefox'): Promise<(typeof sessions)[number]> {
  const created = await t.call('POST', '/v1/sessions', { token: user.token, body: { app } });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const [container] = await sessionContainers(created.body.session_id);
  const info = await docker.getContainer(container!.Id).inspect();
  const ip = Object.values(info.NetworkSettings.Networks)[0]!.IPAddress;
  const s = { id: created.body.session_id as string, containerId: container!.Id, ip, url: created.body.connect.browser.url as string };
  sessions.push(s);
  return s;
}

beforeAll(async () => {
  t = await startApiUnderTest();
  user = await t.newUser();
});
afterAll(async () => {
  for (const s of sessions) await t.call('POST', `/v1/sessions/${s.id}/stop`, { token: user.token });
  await t?.close();
});

/** What an HTTP GET (optionally a websocket upgrade) gets from host:port, from this process. */
function httpFromHost(host: string, port: number, upgrade: boolean): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: 3000 });
    let got = '';
    const headers = upgrade
      ? 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: binary\r\n'
      : '';
    socket.on('connect', () => socket.write(`GET / HTTP/1.1\r\nHost: ${host}\r\n${headers}\r\n`));
    socket.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (got.includes('\r\n\r\n')) socket.destroy();
    });
    socket.on('timeout', () => (socket.destroy(), resolve(`timeout ${got}`)));
    socket.on('error', (err) => resolve(`error ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    socket.on('close', () => resolve(got));
  });
}

/** Whether a TLS handshake with host:port gets a server hello (any certificate) from this process. */
function tlsHelloFromHost(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host, port, rejectUnauthorized: false, timeout: 3000 }, () => (socket.destroy(), resolve(true)));
    socket.on('timeout', () => (socket.destroy(), resolve(false)));
    socket.on('error', () => resolve(false));
  });
}

describe("a session's xpra ports answer only the ingress", () => {
  it('give the host no HTML5 page, no websocket upgrade and no TLS hello', async () => {
    const s = await startSession();
    expect(await httpFromHost(s.ip, XPRA_WS_PORT, false)).toMatch(/^error ECONNREFUSED/);
    expect(await httpFromHost(s.ip, XPRA_WS_PORT, true)).toMatch(/^error ECONNREFUSED/);
    expect(await tlsHelloFromHost(s.ip, XPRA_SSL_PORT)).toBe(false);
  });

  it("are open to a host process with the ingress's group only: the firewall rule decides", async () => {
    const s = sessions[0] ?? (await startSession());
    const probe = (gid?: number) =>
      spawnSync(
        'python3',
        ['-c', 'import socket,sys\ntry:\n  socket.create_connection((sys.argv[1], int(sys.argv[2])), 3).close(); print("open")\nexcept Exception as e:\n  print("closed", e)', s.ip, String(XPRA_WS_PORT)],
        { encoding: 'utf8', ...(gid === undefined ? {} : { gid }) },
      ).stdout.trim();
    expect(probe()).toMatch(/^closed/);
    expect(probe(ingressGid())).toBe('open');
  });

  it('give a plain container on the default bridge nothing', async () => {
    const s = sessions[0] ?? (await startSession());
    const image = (await docker.getContainer(s.containerId).inspect()).Config.Image;
    const plain = await docker.createContainer({
      Image: image,
      Entrypoint: ['sleep', '120'],
      User: '1000:1000',
      HostConfig: { NetworkMode: 'bridge', AutoRemove: false },
    });
    try {
      await plain.start();
      for (const port of [XPRA_WS_PORT, XPRA_SSL_PORT]) expect(await canConnectFrom(plain.id, s.ip, port), `port ${port}`).toBe(false);
    } finally {
      await plain.remove({ force: true });
    }
  });

  it('give another session nothing, whatever its app, and a Thunderbird session the host nothing either', async () => {
    const a = sessions[0] ?? (await startSession());
    const b = await startSession('thunderbird');
    for (const port of [XPRA_WS_PORT, XPRA_SSL_PORT]) {
      expect(await canConnectFrom(b.containerId, a.ip, port), `b → a:${port}`).toBe(false);
      expect(await canConnectFrom(a.containerId, b.ip, port), `a → b:${port}`).toBe(false);
    }
    expect(await httpFromHost(b.ip, XPRA_WS_PORT, true)).toMatch(/^error ECONNREFUSED/);
    expect(await tlsHelloFromHost(b.ip, XPRA_SSL_PORT)).toBe(false);
  });

  it('serve the HTML5 client through the ingress with a token, as before', async () => {
    const s = sessions[0] ?? (await startSession());
    const page = await httpsRequest(s.url, { caFile: stack.caFile });
    expect(page.status).toBe(200);
    expect(page.text).toContain('xpra');
  });
});
