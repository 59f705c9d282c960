/**
 * The image builds' cache (images/image-builds.sh) on the real Docker engine: superseded content
 * tags of an image go once more than HACKSTREAM_IMAGE_BUILDS_KEPT newer builds exist, never the
 * build :latest names nor one a container still uses. Tiny images (FROM scratch) stand in for the
 * session images: the pruning reads only tags, ids and the engine's order.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/paths.js';

const REPO = `hackstream-test/image-builds-${process.pid}`;
const BUILDS = path.join(REPO_ROOT, 'images', 'image-builds.sh');
const docker = (...args: string[]) => execFileSync('docker', args, { encoding: 'utf8' }).trim();
let container = '';

/** Builds a distinct tiny image tagged REPO:<16 hex>, as a content tag is; returns that tag. */
function build(n: number): string {
  const tag = randomBytes(8).toString('hex');
  execFileSync('docker', ['build', '-q', '-t', `${REPO}:${tag}`, '-'], { input: `FROM scratch\nLABEL hackstream.test.build=${n}\n`, env: { ...process.env, DOCKER_BUILDKIT: '0' } });
  return tag;
}

function prune(kept: string) {
  return spawnSync('bash', ['-c', `set -euo pipefail; source "${BUILDS}"; prune_builds "${REPO}"`], { encoding: 'utf8', env: { ...process.env, HACKSTREAM_IMAGE_BUILDS_KEPT: kept } });
}

const tagsLeft = () => new Set(docker('image', 'ls', REPO, '--format', '{{.Tag}}').split('\n').filter(Boolean));

afterAll(() => {
  if (container) spawnSync('docker', ['rm', '-f', container]);
  const left = [...tagsLeft()].map((tag) => `${REPO}:${tag}`);
  if (left.length > 0) spawnSync('docker', ['image', 'rm', '-f', ...left]);
});

describe('the image builds kept', () => {
  it('are the newest few, the one :latest names and any a container uses; the rest are removed', async () => {
    const tags: string[] = []; // oldest first
    for (let n = 0; n < 5; n++) {
      tags.push(build(n));
      await sleep(1100); // the engine orders images by their creation, to the second
    }
    const [oldest, inUse, superseded, newer, newest] = tags as [string, string, string, string, string];
    docker('tag', `${REPO}:${oldest}`, `${REPO}:latest`); // a rollback: :latest at an old build
    container = docker('create', `${REPO}:${inUse}`, 'none');

    const pruned = prune('2');
    expect(pruned.status, pruned.stderr).toBe(0);
    expect(pruned.stdout.trim()).toBe(`==> removed the superseded build ${REPO}:${superseded}`);
    expect(tagsLeft()).toEqual(new Set([newest, newer, oldest, 'latest', inUse]));

    // Nothing more to remove: the same again removes nothing and succeeds.
    const again = prune('2');
    expect([again.status, again.stdout]).toEqual([0, '']);
  });

  it('refuses a number of builds to keep that is not a positive whole number', () => {
    for (const kept of ['0', '-1', 'three']) {
      const refused = prune(kept);
      expect(refused.status, kept).toBe(2);
      expect(refused.stderr).toContain('HACKSTREAM_IMAGE_BUILDS_KEPT must be a positive whole number');
    }
    expect(prune('').status).toBe(0); // unset or empty: the default
  });
});
