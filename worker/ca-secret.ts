/**
 * The HackStream CA on a cluster, where the API and the worker are pods with no disk in common:
 * kept in a Secret of the release's namespace (`ca.pem`, `ca-key.pem`), made once by the Helm
 * chart's first hook (worker/ca-store-main.ts) as a host's worker makes it (ca-setup.ts: the same
 * name constraints), and mounted into the API (the certificate only) and the worker (both). An
 * existing Secret is kept as it is: devices pin the CA's fingerprint.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { statusOf } from '../activities/kube-api-calls.js';
import { CA_FILES, type IngressConfig } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { openCertificateAuthority } from './ca-setup.js';

/** The Secret's keys: the file names a CA directory has (HACKSTREAM_CA_DIR). */
export const CA_SECRET_KEYS = CA_FILES;

export interface CaSecretPlace {
  namespace: string;
  name: string;
}

/** Makes the CA's Secret unless it exists; returns whether this call made it. */
export async function ensureCaSecret(
  cluster: KubeConfig,
  where: CaSecretPlace,
  ingress: Pick<IngressConfig, 'publicHost' | 'domain'>,
  logger: Pick<Logger, 'info' | 'warn'>,
): Promise<{ created: boolean }> {
  const core = cluster.makeApiClient(CoreV1Api);
  const existing = await core.readNamespacedSecret(where).catch((err: unknown) => {
    if (statusOf(err) === 404) return null;
    throw err;
  });
  if (existing) {
    const missing = Object.values(CA_SECRET_KEYS).filter((k) => !existing.data?.[k]);
    if (missing.length > 0) throw new Error(`the Secret ${where.namespace}/${where.name} exists without ${missing.join(' and ')}: it is not a HackStream CA (delete it, or name another)`);
    return { created: false };
  }
  // Made where nothing else can read it, and gone once it is in the Secret.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hackstream-ca-'));
  try {
    const files = { caCertFile: path.join(dir, CA_SECRET_KEYS.cert), caKeyFile: path.join(dir, CA_SECRET_KEYS.key) };
    await openCertificateAuthority({ ...ingress, ...files }, logger);
    const data = {
      [CA_SECRET_KEYS.cert]: (await readFile(files.caCertFile)).toString('base64'),
      [CA_SECRET_KEYS.key]: (await readFile(files.caKeyFile)).toString('base64'),
    };
    try {
      await core.createNamespacedSecret({
        namespace: where.namespace,
        body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: where.name, labels: { 'app.kubernetes.io/name': 'hackstream', 'app.kubernetes.io/component': 'ca' } }, type: 'Opaque', data },
      });
    } catch (err) {
      // Another preparation made it first: theirs is the CA.
      if (statusOf(err) === 409) return { created: false };
      throw err;
    }
    return { created: true };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
