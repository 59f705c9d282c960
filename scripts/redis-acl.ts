/**
 * Writes Redis's ACL file (core/redis-acl.ts), mode 600, for `redis-server --aclfile FILE`
 * (stack/up.sh; docker-compose.yml's one-shot redis-config service). The passwords come from the
 * environment (REDIS_API_PASSWORD, REDIS_WORKER_PASSWORD), never from the command line; the file
 * holds only their hashes.
 *
 *   node dist/scripts/redis-acl.js --output FILE
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomically } from '../core/atomic-file.js';
import { REDIS_PASSWORD_VARIABLES, redisAclFile, type RedisPasswords } from '../core/redis-acl.js';

const USAGE = `usage: ${Object.values(REDIS_PASSWORD_VARIABLES).join('=… ')}=… redis-acl.js --output FILE`;

function outputFile(): string {
  try {
    const { values, positionals } = parseArgs({ options: { output: { type: 'string', short: 'o' } }, allowPositionals: true });
    if (values.output && positionals.length === 0) return values.output;
  } catch (err) {
    console.error((err as Error).message);
  }
  console.error(USAGE);
  process.exit(2);
}

const output = outputFile();
const passwords: RedisPasswords = { api: process.env[REDIS_PASSWORD_VARIABLES.api] ?? '', worker: process.env[REDIS_PASSWORD_VARIABLES.worker] ?? '' };
let text: string;
try {
  text = redisAclFile(passwords);
} catch (err) {
  console.error((err as Error).message);
  process.exit(2);
}
await mkdir(path.dirname(output), { recursive: true, mode: 0o700 });
await writeFileAtomically(output, text, { mode: 0o600 });
