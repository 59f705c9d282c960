#!/usr/bin/env node
/** `hackstream-node` (worker/node-cli.ts). */
import { runNodeCli } from './node-cli.js';

runNodeCli(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error('hackstream-node failed:', err);
    process.exit(1);
  },
);
