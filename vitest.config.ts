import { defineConfig } from 'vitest/config';

// Three tiers: unit (one module, fakes allowed), workflows (Temporal's time-skipping test server
// with fake activities), and integration/e2e/security against the real stack (Redis, Temporal dev server,
// Docker, SQLite/PostgreSQL, Chromium) started once by test/support/global-setup.ts.
export default defineConfig({
  test: {
    reporters: ['default'],
    projects: [
      {
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'] },
      },
      {
        test: {
          name: 'workflows',
          include: ['test/workflows/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts', 'test/security/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          // Shared Docker engine and a 2-core machine: one file at a time.
          fileParallelism: false,
          testTimeout: 240_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
