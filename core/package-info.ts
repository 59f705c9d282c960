/**
 * Where HackStream is installed and its version: the folder of its package.json, found above this
 * module both in the source tree and in dist/.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackage(): { root: string; version: string } {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (let dir = here; ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'hackstream' && pkg.version) return { root: dir, version: pkg.version };
    } catch {
      // not here: look one level up
    }
    if (path.dirname(dir) === dir) return { root: path.resolve(here, '..'), version: '0.0.0' };
  }
}

const found = findPackage();
/** The folder of HackStream's package.json (the checkout, or /opt/hackstream). */
export const PACKAGE_ROOT = found.root;
export const HACKSTREAM_VERSION = found.version;
