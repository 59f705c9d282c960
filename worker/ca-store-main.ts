/**
 * Keeps the HackStream CA in a cluster's Secret (worker/ca-secret.ts): makes it unless it exists.
 * The Helm chart's first hook, before anything of the release: it needs no database, Redis or
 * Temporal, only the Secret's place and the names the CA is constrained to. Exits 0 once the CA
 * is there.
 */
import { ConfigError, loadCaStoreConfig } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { ensureCaSecret } from './ca-secret.js';
import { clusterCredentials } from './cluster-credentials.js';

async function main(): Promise<void> {
  const config = loadCaStoreConfig(process.env);
  const logger = createLogger({ level: config.logLevel, service: 'ca-store', json: config.env === 'production' ? true : undefined });
  const { created } = await ensureCaSecret(clusterCredentials(config.kubeconfigFile), config.store, config.ingress, logger);
  logger.info(created ? 'HackStream CA made' : 'HackStream CA kept', { secret: `${config.store.namespace}/${config.store.name}` });
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) console.error(err.message);
  else console.error('keeping the HackStream CA failed:', err);
  process.exit(1);
});
