/**
 * A session container from the real runtime, without the stack, for tests of the container
 * itself: what provisioning does (a certificate from a throwaway CA for the session's native
 * name, the session's files owned as the worker owns them, then the container).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileCertificateAuthority } from '../../core/certificate-authority.js';
import { readAppCatalog } from '../../core/app-catalog.js';
import { DockerSessionRuntime } from '../../activities/docker-session-runtime.js';
import { SubnetPool } from '../../activities/subnet-pool.js';
import type { ContainerOptions } from '../../activities/xpra-arguments.js';
import type { SessionContainer, SessionSpec } from '../../workflows/messages.js';
import { docker, sessionFilesIn } from './docker.js';

/**
 * `name` names the temporary directory; `subnet` keeps each test file's networks apart; `options`
 * are the node's (a worker's settings).
 */
export async function sessionContainerKit(name: string, subnet: string, options: ContainerOptions = {}) {
  const runtime = new DockerSessionRuntime(docker, new SubnetPool(subnet), `hs-test-${name}-${process.pid}`, options);
  const image = readAppCatalog().firefox!.image;
  const tmp = mkdtempSync(path.join(os.tmpdir(), `hs-${name}-`));
  const ca = new FileCertificateAuthority(path.join(tmp, 'ca', 'ca.pem'), path.join(tmp, 'ca', 'ca-key.pem'), { dnsNames: ['hackstream.test'], ipAddresses: [] });
  const files = await sessionFilesIn(path.join(tmp, 'sessions'));
  return {
    runtime,
    image,
    files,
    /** The session's files (certificate, key, a token public key), then its container. */
    async start(spec: SessionSpec): Promise<{ container: SessionContainer; dir: string }> {
      await ca.ensure();
      const tlsName = `${spec.sessionId}.sessions.hackstream.test`;
      const cert = await ca.issueServerCertificate({ commonName: tlsName, dnsNames: [tlsName], lifetimeSeconds: 600 });
      const dir = await files.write(spec.sessionId, { certPem: cert.certPem, keyPem: cert.keyPem, tokenPublicKeyHex: 'ab'.repeat(32) });
      return { container: await runtime.ensureSessionContainer(spec, dir), dir };
    },
    /** Removes these sessions' containers and every file made here. */
    async close(sessionIds: string[]): Promise<void> {
      for (const id of sessionIds) await runtime.removeSessionContainers(id);
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}
