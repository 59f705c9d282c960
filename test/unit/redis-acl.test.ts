/**
 * Redis's users (core/redis-acl.ts): the default user is off, the file holds no password, a
 * password that the file or a URL could not take as it is gets refused, and stack/up.sh hands
 * each process the URL of its own user.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REDIS_USERS, redisAclFile, redisUrl } from '../../core/redis-acl.js';
import { REPO_ROOT } from '../support/paths.js';

const passwords = { api: 'A'.repeat(20) + 'a1'.repeat(10), worker: 'W'.repeat(20) + 'w2'.repeat(10) };

describe('the Redis ACL file', () => {
  it('turns the default user off and names each user with the hash of its password, never the password', () => {
    const lines = redisAclFile(passwords).trim().split('\n');
    expect(lines[0]).toMatch(/^user default off /);
    expect(lines[0]).not.toMatch(/nopass|[~%&]|\+@/);
    for (const user of ['api', 'worker'] as const) {
      const line = lines.find((l) => l.startsWith(`user ${REDIS_USERS[user]} on `))!;
      expect(line).toMatch(/ #[0-9a-f]{64} /);
      expect(line).not.toContain(passwords[user]);
      expect(line).toContain('-@dangerous');
    }
    expect(lines).toHaveLength(3);
  });

  it('gives the worker only the key spaces the worker side touches', () => {
    const worker = redisAclFile(passwords).split('\n').find((l) => l.startsWith(`user ${REDIS_USERS.worker} `))!;
    expect(worker).not.toContain('~hackstream:*');
    expect(worker).not.toMatch(/revoked-family|login|lock/);
    expect(worker).toContain('%W~hackstream:connect:*');
  });

  it('refuses a password it could not take as it is, or a short one', () => {
    expect(() => redisAclFile({ ...passwords, api: 'short1' })).toThrow(/REDIS_API_PASSWORD/);
    expect(() => redisAclFile({ ...passwords, worker: `${'x'.repeat(40)}@` })).toThrow(/REDIS_WORKER_PASSWORD/);
    expect(() => redisAclFile({ ...passwords, worker: `${'x'.repeat(40)} on ~* +@all` })).toThrow(/REDIS_WORKER_PASSWORD/);
  });

  it('reaches redis-server by its path in stack/lib.sh, never a password on the command line', () => {
    const libSh = readFileSync(path.join(REPO_ROOT, 'stack', 'lib.sh'), 'utf8');
    const start = libSh.slice(libSh.indexOf('redis-server --port'), libSh.indexOf('|| die "redis-server failed'));
    expect(start).toContain('--aclfile "$acl"');
    expect(start).not.toMatch(/requirepass|PASSWORD|--user/i);
  });

  it("is what stack/up.sh's processes connect as, each with its own user", () => {
    const upSh = readFileSync(path.join(REPO_ROOT, 'stack', 'up.sh'), 'utf8');
    expect(upSh).toContain(`redis://${REDIS_USERS.api}:$REDIS_API_PASSWORD@`);
    expect(upSh).toContain(`redis://${REDIS_USERS.worker}:$REDIS_WORKER_PASSWORD@`);
    expect(new URL(redisUrl('127.0.0.1:6379', 'worker', passwords.worker)).username).toBe(REDIS_USERS.worker);
  });
});
