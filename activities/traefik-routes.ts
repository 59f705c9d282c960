/**
 * Session routes in Traefik through its file provider: one file per session in the watched
 * directory (its content built by core/traefik-dynamic-config.ts), written whole (temporary
 * file outside the directory, then a rename in) and removed at teardown.
 *
 * Why the file provider and not Redis: on one host it needs nothing running besides Traefik (a
 * Redis outage would otherwise freeze routing), each route is a readable file an operator can
 * inspect, a rename makes every change atomic, and it measured faster than Redis's keys
 * (bench/results/design-measurements.md). Several Traefik hosts sharing one routing table would
 * be the reason to switch, behind this same interface.
 *
 * Removing a route does not cut connections already open through it: teardown also removes the
 * container.
 */
import { X509Certificate } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import { modifiedAt, removeOlderThan, writeFileAtomically } from '../core/atomic-file.js';
import { sessionTlsName, sessionWebHost } from '../core/ingress-names.js';
import { dynamicConfigText, sessionRouteConfig, type RouteTarget } from '../core/traefik-dynamic-config.js';

/** The narrow interface activities use. */
export interface SessionRoutes {
  add(target: RouteTarget): Promise<void>;
  /** Resolves once the ingress serves both of the session's routes. */
  waitUntilLive(sessionId: string): Promise<void>;
  remove(sessionId: string): Promise<void>;
  /** The sessions that have routes, each with when its file was written (epoch ms). */
  list(): Promise<Array<{ sessionId: string; since: number }>>;
  /** Removes temporary files a crashed writer left, older than `olderThanMs`; returns how many. */
  collectLeftovers(olderThanMs: number): Promise<number>;
}

const FILE_PREFIX = 'session-';

export interface IngressProbe {
  host: string;
  port: number;
  /** The HackStream CA, to verify what the ingress and the session present. */
  caPem: () => Promise<string>;
}

export class TraefikFileRoutes implements SessionRoutes {
  /** Temporary files go here, beside (not inside) the watched directory: one event per change. */
  private readonly staging: string;

  constructor(
    private readonly dir: string,
    private readonly domain: string,
    private readonly probe: IngressProbe,
  ) {
    this.staging = path.join(path.dirname(dir), `${path.basename(dir)}.staging`);
  }

  private file(sessionId: string): string {
    return path.join(this.dir, `${FILE_PREFIX}${sessionId}.yml`);
  }

  async add(target: RouteTarget): Promise<void> {
    await mkdir(this.staging, { recursive: true, mode: 0o700 });
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    // Staged outside the watched directory, so Traefik never reads half. Private: Traefik, its
    // only reader, runs as root (in the stack and in docker-compose.yml).
    await writeFileAtomically(this.file(target.sessionId), dynamicConfigText(sessionRouteConfig(target, this.domain)), { mode: 0o600, tmpDir: this.staging });
  }

  /**
   * Asks the ingress itself: the browser route answers something other than 404 (the
   * ForwardAuth check refuses a request without a token), and a TLS handshake with the session's
   * name reaches the session's own certificate instead of the ingress's default one.
   */
  async waitUntilLive(sessionId: string, timeoutMs = 15_000): Promise<void> {
    const ca = await this.probe.caPem();
    const deadline = Date.now() + timeoutMs;
    let httpLive = false;
    let tlsLive = false;
    for (;;) {
      httpLive ||= (await this.httpStatus(sessionWebHost(sessionId, this.domain), ca)) !== 404;
      tlsLive ||= (await this.presentedName(sessionTlsName(sessionId, this.domain), ca)) === sessionTlsName(sessionId, this.domain);
      if (httpLive && tlsLive) return;
      if (Date.now() > deadline) {
        throw new Error(`the ingress at ${this.probe.host}:${this.probe.port} did not serve the routes of session ${sessionId} within ${timeoutMs} ms (browser ${httpLive}, native ${tlsLive})`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async remove(sessionId: string): Promise<void> {
    await rm(this.file(sessionId), { force: true });
  }

  async list(): Promise<Array<{ sessionId: string; since: number }>> {
    const files = await readdir(this.dir).catch(() => [] as string[]);
    const found = [];
    for (const f of files.filter((name) => name.startsWith(FILE_PREFIX) && name.endsWith('.yml'))) {
      const since = await modifiedAt(path.join(this.dir, f));
      if (since !== null) found.push({ sessionId: f.slice(FILE_PREFIX.length, -'.yml'.length), since });
    }
    return found;
  }

  async collectLeftovers(olderThanMs: number): Promise<number> {
    return removeOlderThan(this.staging, await readdir(this.staging).catch(() => [] as string[]), olderThanMs);
  }

  /** The status of `GET /` on this host, asked of the probe address (no DNS needed). */
  private httpStatus(host: string, ca: string): Promise<number> {
    return new Promise((resolve) => {
      const req = https.request(
        {
          host: this.probe.host,
          port: this.probe.port,
          servername: host,
          headers: { host },
          path: '/',
          method: 'GET',
          ca,
          // The chain must be ours; the name is the session's browser host.
          checkServerIdentity: (_name, cert) => tls.checkServerIdentity(host, cert),
          timeout: 2000,
          agent: false,
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', () => resolve(0));
      req.on('timeout', () => req.destroy());
      // A destroyed request may close without an error event: an answer either way (a second
      // resolve is a no-op), or waitUntilLive would wait on it past its deadline, for ever.
      req.on('close', () => resolve(0));
      req.end();
    });
  }

  /** The DNS name of the certificate presented for this SNI, or null. */
  private presentedName(servername: string, ca: string): Promise<string | null> {
    return new Promise((resolve) => {
      const socket = tls.connect({ host: this.probe.host, port: this.probe.port, servername, ca, timeout: 2000 }, () => {
        const raw = socket.getPeerX509Certificate();
        socket.destroy();
        resolve(raw && new X509Certificate(raw.raw).checkHost(servername) ? servername : null);
      });
      socket.on('error', () => resolve(null));
      // destroy() closes the socket without an error event: a handshake that stalls past the
      // timeout must still answer (a second resolve is a no-op).
      socket.on('timeout', () => socket.destroy());
      socket.on('close', () => resolve(null));
    });
  }
}
