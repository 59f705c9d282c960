/**
 * Prints Traefik's static configuration (core/traefik-static-config.ts) as JSON, which Traefik
 * reads as YAML; stack/lib.sh writes it to the file Traefik starts with.
 *
 *   node dist/scripts/traefik-static-config.js <https listen address> <routes dir> [log file]
 */
import { traefikStaticConfig } from '../core/traefik-static-config.js';

const [httpsAddress, routesDir, logFile] = process.argv.slice(2);
if (!httpsAddress || !routesDir) {
  console.error('usage: traefik-static-config.js <https listen address> <routes dir> [log file]');
  process.exit(2);
}
console.log(JSON.stringify(traefikStaticConfig({ httpsAddress, routesDir, logFile }), null, 2));
