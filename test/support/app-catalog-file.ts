/** An app catalog file for a test's stack: the shipped catalog with some apps' facts changed. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readAppCatalog, type AppDefinition } from '../../core/app-catalog.js';

/** The file, and its removal for the test's afterAll (the stack may read it as long as it runs). */
export function appCatalogFile(changes: Record<string, Partial<AppDefinition>>): { file: string; remove(): void } {
  const catalog = readAppCatalog();
  for (const [app, change] of Object.entries(changes)) catalog[app] = { ...catalog[app]!, ...change };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-apps-'));
  const file = path.join(dir, 'apps.json');
  writeFileSync(file, JSON.stringify(catalog));
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
