/** The client as users get it: one bundled file (client/build.mjs), built once per test run. */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './paths.js';

export const CLIENT_DIR = path.join(REPO_ROOT, 'client');
export const CLIENT_BUNDLE = path.join(CLIENT_DIR, 'dist', 'hackstream.cjs');

let built = false;

export function buildClientBundle(): string {
  if (!built) {
    execFileSync(process.execPath, [path.join(CLIENT_DIR, 'build.mjs')], { cwd: CLIENT_DIR, stdio: 'pipe' });
    built = true;
  }
  return CLIENT_BUNDLE;
}
