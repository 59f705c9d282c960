import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));

// Served by the API under /ui/ with a strict CSP (no inline script or style), so the build must
// emit only external files: the module-preload polyfill is an inline-free helper we do not need
// (every supported browser has modulepreload), and there is one CSS file imported from main.tsx.
export default defineConfig({
  root: here,
  base: '/ui/',
  publicDir: false,
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: path.resolve(here, '../dist/dashboard'),
    emptyOutDir: true,
    sourcemap: false,
    modulePreload: { polyfill: false },
    // Keep the CSS a file even if it is tiny: inlining it would be blocked by style-src 'self'.
    assetsInlineLimit: 0,
    target: 'es2022',
  },
});
