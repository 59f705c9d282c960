// Bundles the client into one JavaScript file for the Node.js that Debian and Raspberry Pi OS ship
// (18.x): dependencies included, no node_modules at run time, so the .deb is architecture-free.
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';

const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));

await build({
  entryPoints: [new URL('./src/main.ts', import.meta.url).pathname],
  outfile: new URL('./dist/hackstream.cjs', import.meta.url).pathname,
  bundle: true,
  platform: 'node',
  target: 'node18.19',
  format: 'cjs',
  banner: { js: '#!/usr/bin/node' },
  define: { HACKSTREAM_CLIENT_VERSION: JSON.stringify(version) },
  // Debian's Node 18 has no start-up snapshot or code cache: every command parses the whole
  // bundle, so a smaller one starts measurably sooner (bench/results/session-bench-client.md).
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
});
