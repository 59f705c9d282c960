/**
 * A throwaway PostgreSQL cluster (Debian's postgresql package) in a temp dir on a free port,
 * run as the `postgres` system user when the tests run as root.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports.js';

export interface TestPostgres {
  url: string;
  stop(): Promise<void>;
}

function pgBin(name: string): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const p = path.join(base, v, 'bin', name);
    if (existsSync(p)) return p;
  }
  throw new Error(`${name} not found under ${base}: install the Debian package postgresql (stack/test.sh does)`);
}

function asPostgres(cmd: string, args: string[]): string[] {
  return process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--', cmd, ...args] : [cmd, ...args];
}

export async function startPostgres(): Promise<TestPostgres> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-pg-'));
  chmodSync(dir, 0o700);
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  const data = path.join(dir, 'data');
  const [initCmd, ...initArgs] = asPostgres(pgBin('initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  execFileSync(initCmd!, initArgs, { stdio: 'ignore' });
  const port = await freePort();
  const pgCtl = (...args: string[]) => {
    const [cmd, ...rest] = asPostgres(pgBin('pg_ctl'), ['-D', data, ...args]);
    execFileSync(cmd!, rest, { stdio: 'ignore' });
  };
  pgCtl('-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, '-l', path.join(dir, 'log'), '-w', 'start');
  const [createCmd, ...createArgs] = [pgBin('createdb'), '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', 'hackstream'];
  execFileSync(createCmd, createArgs, { stdio: 'ignore' });
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/hackstream`,
    async stop() {
      pgCtl('-m', 'immediate', '-w', 'stop');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
