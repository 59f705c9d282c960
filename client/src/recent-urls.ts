/** The last URLs the person launched, newest first, for the GUI's URL field. */
import path from 'node:path';
import type { ClientPaths } from './client-paths.js';
import { readOptionalFile, writePrivateFile } from './private-files.js';

export const RECENT_LIMIT = 10;

const file = (paths: ClientPaths) => path.join(paths.stateDir, 'recent-urls.json');

export function recentUrls(paths: ClientPaths): string[] {
  try {
    const list = JSON.parse(readOptionalFile(file(paths)) ?? '[]') as unknown;
    return Array.isArray(list) ? list.filter((u): u is string => typeof u === 'string').slice(0, RECENT_LIMIT) : [];
  } catch {
    return [];
  }
}

export function rememberUrl(paths: ClientPaths, url: string): void {
  const list = [url, ...recentUrls(paths).filter((u) => u !== url)].slice(0, RECENT_LIMIT);
  writePrivateFile(file(paths), `${JSON.stringify(list)}\n`);
}
