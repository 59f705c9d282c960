/**
 * The control plane's Redis users, with their rules in one place: redis-server starts with the
 * ACL file built here (stack/up.sh and docker-compose.yml through scripts/redis-acl.ts, the test
 * stack directly), and nobody gets in without a password (the default user is off).
 *
 * The API's user has HackStream's key space. The worker's has only what the worker side touches:
 * the warm pools' lists, its health records, and a session's browser credentials, which it
 * deletes at teardown through the session's index but cannot read. It cannot lift a revoked
 * token family, a login lockout or a lock. Neither user may run Redis's
 * dangerous commands (CONFIG, FLUSHALL, KEYS, ACL, DEBUG, MONITOR, SHUTDOWN, MIGRATE, ...).
 *
 * The file holds SHA-256 hashes of the passwords, never the passwords themselves.
 */
import { createHash } from 'node:crypto';
import { REVOCATION_KEYS } from './connect-credentials.js';
import { POOL_KEYS } from './pool-store.js';
import { WORKER_HEALTH_PREFIX } from './worker-health.js';

export type RedisUser = 'api' | 'worker';

/** The users' names in Redis (each process's HACKSTREAM_REDIS_URL names its own). */
export const REDIS_USERS: Record<RedisUser, string> = { api: 'hackstream-api', worker: 'hackstream-worker' };

/** Where the ACL file's writer reads each password (stack/up.sh keeps them in secrets.env). */
export const REDIS_PASSWORD_VARIABLES: Record<RedisUser, string> = { api: 'REDIS_API_PASSWORD', worker: 'REDIS_WORKER_PASSWORD' };

export type RedisPasswords = Record<RedisUser, string>;

/** Key patterns per user: `~` read and write, `%W~` write only (DEL is a write). */
const KEYS: Record<RedisUser, string[]> = {
  api: ['~hackstream:*'],
  worker: [`~${POOL_KEYS}`, `~${WORKER_HEALTH_PREFIX}*`, `~${REVOCATION_KEYS.indexes}`, ...REVOCATION_KEYS.listed.map((k) => `%W~${k}`)],
};

// Everything but @dangerous; INFO back, because ioredis's ready check asks for it (it waits
// while Redis loads its append-only file).
const COMMANDS = ['+@all', '-@dangerous', '+info'];

/** Taken as it is by the ACL file and inside a redis:// URL. */
const PASSWORD = /^[A-Za-z0-9]{32,}$/;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The ACL file's text (`redis-server --aclfile FILE`); a password unfit for it is refused. */
export function redisAclFile(passwords: RedisPasswords): string {
  const lines = ['user default off resetpass resetkeys resetchannels -@all'];
  for (const user of Object.keys(REDIS_USERS) as RedisUser[]) {
    if (!PASSWORD.test(passwords[user] ?? '')) {
      throw new Error(`${REDIS_PASSWORD_VARIABLES[user]}: must be at least 32 letters and digits`);
    }
    lines.push(['user', REDIS_USERS[user], 'on', `#${sha256(passwords[user])}`, 'resetkeys', 'resetchannels', ...KEYS[user], ...COMMANDS].join(' '));
  }
  return `${lines.join('\n')}\n`;
}

/** The URL a process connects with as `user`, e.g. redis://hackstream-api:…@127.0.0.1:6379. */
export const redisUrl = (address: string, user: RedisUser, password: string): string => `redis://${REDIS_USERS[user]}:${password}@${address}`;
