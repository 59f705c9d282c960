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
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { modifiedAt, removeOlderThan, writeFileAtomically } from '../core/atomic-file.js';
import { dynamicConfigText, sessionRouteConfig, type RouteTarget } from '../core/traefik-dynamic-config.js';
import { untilRoutesLive, type IngressProbe } from './ingress-liveness.js';

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

  waitUntilLive(sessionId: string, timeoutMs?: number): Promise<void> {
    return untilRoutesLive(this.probe, this.domain, sessionId, timeoutMs);
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
}
