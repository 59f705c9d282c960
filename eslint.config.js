// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

// Workflow code is replayed deterministically inside Temporal's sandbox: no Node builtins, no I/O
// libraries, and activities only by type. The override below makes that a lint error.
const forbiddenInWorkflows = [
  ...builtinModules.flatMap((m) => [m, `node:${m}`]),
  '@temporalio/client',
  '@temporalio/worker',
  '@temporalio/activity',
  'dockerode',
  'ioredis',
  'winston',
  'express',
  '@mikro-orm/*',
];

/** `no-restricted-imports` for `files`: no import of the top-level folders `banned`, at any depth. */
function layer(files, banned, message) {
  const group = banned.flatMap((folder) => ['../', '../../', '../../../'].map((up) => `${up}${folder}/*`));
  return [{ files, rules: { 'no-restricted-imports': ['error', { patterns: [{ group, message }] }] } }];
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.tools/**', '.data/**', 'images/**', 'bench/results/**', 'client/dist/**', 'client/node_modules/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: forbiddenInWorkflows
            .filter((m) => !m.includes('*'))
            .map((name) => ({ name, message: 'Workflow code must stay deterministic: no Node builtins or side-effecting modules.' })),
          patterns: [
            { group: ['@mikro-orm/*'], message: 'Workflows must not touch the database; use an activity.' },
            {
              // core/session-snapshot.ts is plain constants and types, so the sandbox can load it.
              group: ['../activities/*', '../core/*', '!../core/session-snapshot.js', '../api/*', '../worker/*'],
              allowTypeImports: true,
              message: 'Workflows import activities (and other server code) by type only.',
            },
          ],
        },
      ],
    },
  },
  {
    // Tests read JSON bodies loosely and fakes implement async interfaces synchronously.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // Functions that read in one screen; a longer one carries its reason beside it (an
    // eslint-disable comment with a "--" explanation).
    files: ['activities/**/*.ts', 'api/**/*.ts', 'workflows/**/*.ts'],
    rules: { 'max-lines-per-function': ['error', { max: 60, skipBlankLines: true, skipComments: true }] },
  },
  // Layering (see README, Layout): the API and the worker meet only on the shared floor (core/)
  // and the workflow contracts; a worker node must not carry the API's code, nor the API the
  // worker's; the floor imports nothing above it.
  ...layer(['api/**/*.ts'], ['activities', 'worker'], 'The API reaches workers only through Temporal: share what both need in core/.'),
  ...layer(['worker/**/*.ts', 'activities/**/*.ts'], ['api'], 'The worker side never imports the API: share what both need in core/.'),
  ...layer(['core/**/*.ts'], ['api', 'activities', 'worker', 'workflows', 'node-gateway'], 'core/ is the shared floor: it imports nothing above it.'),
  ...layer(['node-gateway/**/*.ts'], ['api', 'activities', 'worker', 'workflows'], 'The node gateway stands alone on core/: it only checks nodes and passes bytes.'),
  ...layer(
    ['dashboard/src/**/*.{ts,tsx}'],
    ['activities', 'worker', 'workflows', 'scripts', 'client', 'test', 'bench'],
    'The dashboard runs in the browser: it talks to the API over HTTP, and imports only the contract\'s types (api/contract/) and constant lists in core/.',
  ),
  {
    // The client runs on Debian's Node 18 and talks to the server over HTTPS only: nothing of the
    // server's code may end up in its bundle.
    files: ['client/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['../../core/*', '../../api/*', '../../workflows/*', '../../activities/*', '../../worker/*', '../core/*', '../api/*'], message: 'The client imports only its own files.' }] },
      ],
    },
  },
  {
    files: ['eslint.config.js', 'client/**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // Build scripts run on the project's Node.
    files: ['client/**/*.mjs'],
    languageOptions: { globals: { URL: 'readonly', process: 'readonly', console: 'readonly', Buffer: 'readonly' } },
  },
);
