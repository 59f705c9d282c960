/**
 * Traefik's static configuration for the HackStream ingress: one TLS entrypoint shared by the
 * HTTPS routers (API, browser path) and the TLS passthrough routers (native path), and the file
 * provider watching the routes directory the workers write. No dashboard, API, telemetry or
 * access log.
 *
 *   node dist/worker/traefik-static-config.js <https listen address> <routes dir> <log file>
 * prints it (JSON, which Traefik reads as YAML); stack/up.sh writes it to a file.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENTRYPOINT } from '../core/ingress-names.js';

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
    log: { level: 'WARN', format: 'json', ...(o.logFile ? { filePath: o.logFile } : {}) },
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const [httpsAddress, routesDir, logFile] = process.argv.slice(2);
  if (!httpsAddress || !routesDir) {
    console.error('usage: traefik-static-config.js <https listen address> <routes dir> [log file]');
    process.exit(2);
  }
  console.log(JSON.stringify(traefikStaticConfig({ httpsAddress, routesDir, logFile }), null, 2));
}
