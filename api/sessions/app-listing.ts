/**
 * GET /v1/apps: the apps of the catalog (configuration: core/app-catalog.ts) the caller's role
 * may start, with what each offers: its profile modes, whether it opens a page, and whether a
 * warm pool keeps it ready (then a start takes a fraction of a second instead of seconds).
 */
import { PROFILES } from '../../core/catalog.js';
import type { ApiConfig } from '../../core/config.js';
import type { Role } from '../../core/roles.js';

export interface AppView {
  name: string;
  title: string;
  profiles: string[];
  /** Whether a session of it opens the page it is given (`url`). */
  opens_urls: boolean;
  /** Qualities a warm pool keeps it ready in (HACKSTREAM_POOL); empty: it always starts cold. */
  warm_qualities: string[];
}

export function appsFor(role: Role, config: Pick<ApiConfig, 'apps' | 'policies' | 'pool'>): AppView[] {
  const allowed = config.policies[role].apps;
  return Object.entries(config.apps)
    .filter(([app]) => allowed.includes(app))
    .map(([app, entry]) => ({
      name: app,
      title: entry.title,
      profiles: PROFILES.filter((p) => p !== 'persist' || entry.persistentProfiles),
      opens_urls: entry.opensUrls,
      warm_qualities: config.pool.pools.filter((p) => p.app === app).map((p) => p.quality),
    }));
}
