import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/** The Node.js that Debian 12 and Raspberry Pi OS ship, and the bundle's esbuild target. */
const DEBIAN_NODE = '18.19.0';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const clientDir = path.join(repoRoot, 'client');

interface Manifest {
  name: string;
  version: string;
  engines?: { node?: string };
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}
const manifest = (dir: string): Manifest => JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));

interface Semver {
  satisfies(version: string, range: string): boolean;
  validRange(range: string): string | null;
  minVersion(range: string): { version: string } | null;
}

/** The repository's own `semver` (a dependency of its tooling) when there is one. */
function loadSemver(): Semver | undefined {
  try {
    return createRequire(path.join(repoRoot, 'package.json'))('semver') as Semver;
  } catch {
    return undefined;
  }
}

/**
 * Whether `version` satisfies an npm range, for the forms engines fields use: `||` alternatives
 * of space-separated comparators (>=, >, <=, <, =, ^, ~, x-ranges, `a - b` is not used by any).
 */
function simpleSatisfies(version: string, range: string): boolean {
  const v = version.split('.').map(Number);
  const cmp = (a: number[], b: number[]) => {
    for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) < (b[i] ?? 0) ? -1 : 1;
    return 0;
  };
  const parts = (s: string) => s.replace(/^v/, '').split('.').filter((p) => p !== '' && !/^[x*]$/i.test(p)).map(Number);
  const comparator = (c: string): boolean => {
    const m = /^(>=|<=|>|<|=|\^|~)?\s*(.*)$/.exec(c.trim())!;
    const op = m[1] ?? '';
    const p = parts(m[2]!);
    if (p.length === 0) return true; // * or x
    const lower = [p[0]!, p[1] ?? 0, p[2] ?? 0];
    const upperFor = (n: number[]) => (n.length === 1 ? [n[0]! + 1, 0, 0] : n.length === 2 ? [n[0]!, n[1]! + 1, 0] : undefined);
    switch (op) {
      case '>=':
        return cmp(v, lower) >= 0;
      case '>':
        return p.length === 3 ? cmp(v, lower) > 0 : cmp(v, upperFor(p)!) >= 0;
      case '<=':
        return p.length === 3 ? cmp(v, lower) <= 0 : cmp(v, upperFor(p)!) < 0;
      case '<':
        return cmp(v, lower) < 0;
      case '^': {
        const upper = p[0]! > 0 ? [p[0]! + 1, 0, 0] : (p[1] ?? 0) > 0 || p.length === 2 ? [0, (p[1] ?? 0) + 1, 0] : [0, 0, (p[2] ?? 0) + 1];
        return cmp(v, lower) >= 0 && cmp(v, upper) < 0;
      }
      case '~':
        return cmp(v, lower) >= 0 && cmp(v, p.length === 1 ? [p[0]! + 1, 0, 0] : [p[0]!, (p[1] ?? 0) + 1, 0]) < 0;
      default:
        return p.length === 3 ? cmp(v, lower) === 0 : cmp(v, lower) >= 0 && cmp(v, upperFor(p)!) < 0;
    }
  };
  return range.split('||').some((alt) => {
    const comparators = alt.trim().replace(/(>=|<=|>|<|=|\^|~)\s+/g, '$1').split(/\s+/).filter(Boolean);
    return comparators.every(comparator);
  });
}

const semver = loadSemver();
const satisfies = (version: string, range: string) => (semver ? semver.satisfies(version, range) : simpleSatisfies(version, range));

/**
 * The installed packages the client's dependencies pull in, resolved as Node does: from the
 * requiring package's own node_modules up to client/node_modules.
 */
function runtimeClosure(): Map<string, { dir: string; manifest: Manifest; requiredBy: string }> {
  const found = new Map<string, { dir: string; manifest: Manifest; requiredBy: string }>();
  const resolve = (name: string, from: string): string | undefined => {
    for (let dir = from; dir.startsWith(clientDir); dir = path.dirname(dir)) {
      const candidate = path.join(dir, 'node_modules', name);
      if (existsSync(path.join(candidate, 'package.json'))) return candidate;
      if (dir === clientDir) break;
    }
    return undefined;
  };
  const visit = (fromDir: string, fromName: string, deps: Record<string, string>, optional: Set<string>) => {
    for (const [name, spec] of Object.entries(deps)) {
      const dir = resolve(name, fromDir);
      if (!dir) {
        if (optional.has(name)) continue;
        throw new Error(`${name}@${spec}, a dependency of ${fromName}, is not installed under client/node_modules (run npm --prefix client ci)`);
      }
      if (found.has(dir)) continue;
      const m = manifest(dir);
      found.set(dir, { dir, manifest: m, requiredBy: `${fromName} (${spec})` });
      visit(dir, m.name, { ...m.dependencies, ...m.optionalDependencies }, new Set(Object.keys(m.optionalDependencies ?? {})));
    }
  };
  visit(clientDir, 'hackstream-client', manifest(clientDir).dependencies ?? {}, new Set());
  return found;
}

describe("the client's runtime dependencies", () => {
  const client = manifest(clientDir);
  const closure = runtimeClosure();

  it('are installed, at the versions client/package.json pins', () => {
    const direct = Object.entries(client.dependencies ?? {});
    expect(direct.length).toBeGreaterThan(0);
    for (const [name, spec] of direct) {
      const entry = closure.get(path.join(clientDir, 'node_modules', name));
      expect(entry, `${name} is installed`).toBeDefined();
      expect(satisfies(entry!.manifest.version, spec), `${name}@${entry!.manifest.version} satisfies ${spec}`).toBe(true);
    }
    // They pull in more than themselves (ora, read and proper-lockfile have dependencies).
    expect(closure.size).toBeGreaterThan(direct.length);
  });

  it(`all run on Node ${DEBIAN_NODE}: each declares a compatible engines.node, or none`, () => {
    const incompatible = [...closure.values()]
      .filter(({ manifest: m }) => m.engines?.node !== undefined && !satisfies(DEBIAN_NODE, m.engines.node))
      .map(({ dir, manifest: m, requiredBy }) => `${path.relative(clientDir, dir)}@${m.version} wants node ${m.engines!.node} (required by ${requiredBy})`);
    expect(incompatible).toEqual([]);
  });

  it('include no native addon, which the architecture-free bundle could not carry', () => {
    const native = [...closure.values()].filter(({ dir }) => existsSync(path.join(dir, 'binding.gyp'))).map(({ dir }) => path.relative(clientDir, dir));
    expect(native).toEqual([]);
  });

  it('are checked against the release the client itself declares: node >=18.19, which is also the bundle target', () => {
    expect(client.engines?.node).toBe('>=18.19');
    expect(satisfies(DEBIAN_NODE, client.engines!.node!)).toBe(true);
    expect(satisfies('18.18.2', client.engines!.node!)).toBe(false);
    expect(readFileSync(path.join(clientDir, 'build.mjs'), 'utf8')).toMatch(/target:\s*'node18\.19'/);
  });

  it.runIf(semver)('are judged by a range check that agrees with npm semver on the ranges engines fields use', () => {
    const ranges = [
      ...new Set([...closure.values()].map(({ manifest: m }) => m.engines?.node).filter((r): r is string => r !== undefined)),
      '>=18.19',
      '>=20',
      '^18.17.0 || >=20.5.0',
      '^16.13.0 || >=18.0.0',
      '>= 4',
      '~18.19',
      '18.x',
      '>=18 <19',
      '<18.19',
      '^0.10.0',
      '>16',
      '<=18.18',
    ];
    for (const version of ['16.20.2', '18.0.0', '18.18.2', DEBIAN_NODE, '18.20.4', '20.5.0', '22.1.0']) {
      for (const range of ranges) expect(simpleSatisfies(version, range), `${version} in ${range}`).toBe(semver!.satisfies(version, range));
    }
  });
});
