/**
 * Which host uid and gid a session's user is. With dockerd's user namespace (`--userns-remap`),
 * a container's uid N is the host's uid <start of the remap user's subordinate range> + N: no
 * host account, so the files the worker writes for a session belong to that id, not to the
 * host's uid 1000 (a login user on many machines). Without one the worker refuses to start,
 * unless the operator accepts it (HACKSTREAM_DOCKER_USERNS=off).
 */
import { readFile } from 'node:fs/promises';
import type Docker from 'dockerode';
import { SESSION_UID, type FileOwner } from '../activities/session-files.js';
import { ConfigError, type WorkerConfig } from '../core/config.js';
import type { Logger } from '../core/logger.js';

/**
 * The first subordinate id of `user` in /etc/subuid or /etc/subgid text (`name:start:count`
 * lines), provided the range covers `id`; null when the user has none that does.
 */
export function subordinateId(fileText: string, user: string, id: number): number | null {
  for (const line of fileText.split('\n')) {
    const [name, start, count] = line.trim().split(':');
    if (name !== user || !/^\d+$/.test(start ?? '') || !/^\d+$/.test(count ?? '')) continue;
    if (id < Number(count)) return Number(start) + id;
  }
  return null;
}

/** Whether the Docker engine runs containers in a user namespace of its own. */
export async function engineRemapsUsers(docker: Docker): Promise<boolean> {
  const info = (await docker.info()) as { SecurityOptions?: string[] };
  return (info.SecurityOptions ?? []).some((o) => o.split(',').includes('name=userns'));
}

export async function sessionUserOnHost(docker: Docker, config: WorkerConfig['userNamespace'], logger: Logger): Promise<FileOwner> {
  if (!(await engineRemapsUsers(docker))) {
    if (config.required) {
      throw new ConfigError(
        `the Docker engine runs without a user namespace: a session's user would be this host's uid ${SESSION_UID}. ` +
          'Start dockerd with --userns-remap=default (stack/up.sh does), or set HACKSTREAM_DOCKER_USERNS=off to accept it',
      );
    }
    logger.warn('the Docker engine runs without a user namespace (HACKSTREAM_DOCKER_USERNS=off): sessions run as host uid 1000');
    return { uid: SESSION_UID, gid: SESSION_UID };
  }
  const mapped = async (file: string) => {
    const id = subordinateId(await readFile(file, 'utf8').catch(() => ''), config.remapUser, SESSION_UID);
    if (id === null) throw new ConfigError(`${file} has no subordinate range of ${config.remapUser} covering ${SESSION_UID} (HACKSTREAM_DOCKER_USERNS_USER names dockerd's remap user)`);
    return id;
  };
  return { uid: await mapped('/etc/subuid'), gid: await mapped('/etc/subgid') };
}
