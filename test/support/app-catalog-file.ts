/** An app catalog file for a test's stack: the shipped catalog with some apps' facts changed. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readAppCatalog, type AppDefinition } from '../../core/app-catalog.js';

export function appCatalogFile(changes: Record<string, Partial<AppDefinition>>): string {
  const catalog = readAppCatalog();
  for (const [app, change] of Object.entries(changes)) catalog[app] = { ...catalog[app]!, ...change };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-apps-'));
  // Read by the stack for as long as the test file runs: removed when its process ends.
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'apps.json');
  writeFileSync(file, JSON.stringify(catalog));
  return file;
}
