/**
 * Writes Traefik's static configuration (core/traefik-static-config.ts) as JSON, which Traefik
 * reads as YAML: to standard output, or with --output to a file, written whole, for Traefik to
 * start with (stack/lib.sh; docker-compose.yml's one-shot traefik-config service).
 *
 *   node dist/scripts/traefik-static-config.js [--output FILE] <https listen address> <routes dir> [log file]
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomically } from '../core/atomic-file.js';
import { traefikStaticConfig } from '../core/traefik-static-config.js';

const USAGE = 'usage: traefik-static-config.js [--output FILE] <https listen address> <routes dir> [log file]';

function parse(): { output: string | undefined; httpsAddress: string; routesDir: string; logFile: string | undefined } {
  try {
    const { values, positionals } = parseArgs({ options: { output: { type: 'string', short: 'o' } }, allowPositionals: true });
    const [httpsAddress, routesDir, logFile, ...extra] = positionals;
    if (httpsAddress && routesDir && extra.length === 0) return { output: values.output, httpsAddress, routesDir, logFile };
  } catch (err) {
    console.error((err as Error).message);
  }
  console.error(USAGE);
  process.exit(2);
}

const { output, ...options } = parse();
const text = `${JSON.stringify(traefikStaticConfig(options), null, 2)}\n`;
if (output) {
  await mkdir(path.dirname(output), { recursive: true, mode: 0o700 });
  // Traefik reads it as root; nobody else needs the routes directory and log paths it names.
  await writeFileAtomically(output, text, { mode: 0o600 });
} else {
  process.stdout.write(text);
}
