import { execFileSync } from 'node:child_process';
import Docker from 'dockerode';
import { sessionLabelFilter } from '../../activities/container-labels.js';

export const docker = new Docker({ socketPath: process.env['HACKSTREAM_DOCKER_SOCKET'] ?? '/var/run/docker.sock' });

/** All containers (running or not) labelled with this session. */
export async function sessionContainers(sessionId: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [sessionLabelFilter(sessionId)] } });
}

interface BridgeInfo {
  IPAM?: { Config?: Array<{ Gateway?: string }> };
  Options?: Record<string, string>;
}

/** The host's address on Docker's default bridge: what a session container reaches the host by. */
export async function bridgeGateway(): Promise<string> {
  const info = (await docker.getNetwork('bridge').inspect()) as BridgeInfo;
  const declared = info.IPAM?.Config?.[0]?.Gateway;
  if (declared) return declared;
  // Older engines leave the default bridge's gateway implicit: it is the bridge interface's
  // address (read with iproute2: Node does not list an interface that has no carrier yet).
  const ifname = info.Options?.['com.docker.network.bridge.name'] ?? 'docker0';
  const out = execFileSync('ip', ['-4', '-o', 'addr', 'show', 'dev', ifname], { encoding: 'utf8' });
  const address = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(out)?.[1];
  if (!address) throw new Error(`cannot find the address of Docker's bridge interface ${ifname}`);
  return address;
}
