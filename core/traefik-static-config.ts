/**
 * Traefik's static configuration for the HackStream ingress: one TLS entrypoint shared by the
 * HTTPS routers (API, browser path) and the TLS passthrough routers (native path), and the file
 * provider watching the routes directory (its files: core/traefik-dynamic-config.ts), and the
 * local plugin of the API's JSON errors (JSON_ERRORS_PLUGIN; Traefik starts in `ingress/`). No
 * dashboard, API, telemetry or access log.
 * Its only definition: scripts/traefik-static-config.ts writes it to the file Traefik starts
 * with, for the local stack (stack/lib.sh) and for docker-compose.yml (its one-shot
 * traefik-config service); the tests write it themselves (test/support/traefik.ts).
 */
import { ENTRYPOINT, JSON_ERRORS_PLUGIN } from './ingress-names.js';

export interface TraefikStaticOptions {
  /** e.g. `:8443` or `127.0.0.1:18443` */
  httpsAddress: string;
  routesDir: string;
  logFile?: string;
}

export function traefikStaticConfig(o: TraefikStaticOptions): object {
  return {
    global: { checkNewVersion: false, sendAnonymousUsage: false },
    entryPoints: {
      [ENTRYPOINT]: {
        address: o.httpsAddress,
        http: {
          tls: {},
          // No silent rewriting of `/./`, `/../` or `%2e`: the browser path's ForwardAuth check
          // refuses (and audits) such paths itself (api/connect/forwarded-uri.ts), which it
          // cannot once Traefik has cleaned them; the API's own routes never resolve dot segments.
          sanitizePath: false,
          // Both silence Traefik 3.7's start-up warnings with the strict choice.
          aliasHeadersStrategy: 'delete',
          encodedCharacters: {
            allowEncodedSlash: false,
            allowEncodedBackSlash: false,
            allowEncodedNullCharacter: false,
            allowEncodedSemicolon: false,
            allowEncodedPercent: false,
            allowEncodedQuestionMark: false,
            allowEncodedHash: false,
          },
        },
      },
    },
    providers: {
      // A session's routes must be live while its user waits: the default 2 s delays bursts.
      providersThrottleDuration: '200ms',
      file: { directory: o.routesDir, watch: true },
    },
    experimental: {
      localPlugins: { [JSON_ERRORS_PLUGIN.name]: { moduleName: JSON_ERRORS_PLUGIN.moduleName } },
      // A plugin that does not load would leave the API's router without its middleware, and
      // Traefik would drop the router (404 for every API path): refusing to start says why.
      abortOnPluginFailure: true,
    },
    log: { level: 'WARN', format: 'json', ...(o.logFile ? { filePath: o.logFile } : {}) },
  };
}
