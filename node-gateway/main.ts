/** The node gateway process (node-gateway/node-gateway.ts): mutual TLS for session nodes in front of Temporal. */
import { ConfigError, loadGatewayConfig } from '../core/config.js';
import { migrateToLatest, openDatabase } from '../core/db/orm.js';
import { createLogger } from '../core/logger.js';
import { NodeRegistry } from '../core/node-registry.js';
import { nodeCertificateAuthority } from '../core/node-identity.js';
import { admitsNode, gatewayCredentials, GATEWAY_CERT_RENEW_MS } from './gateway-admission.js';
import { NodeGateway } from './node-gateway.js';
import { TunnelSshd } from './tunnel-sshd.js';
import { TUNNEL_LISTEN_HOST, TunnelHostKey } from '../core/node-tunnel.js';
import path from 'node:path';

/** How often every open connection's node is looked up again (a revocation's effect within this). */
const RECHECK_MS = 10_000;

async function main(): Promise<void> {
  process.umask(0o077);
  const config = loadGatewayConfig(process.env);
  const logger = createLogger({ level: config.logLevel, service: 'node-gateway', json: config.env === 'production' ? true : undefined });
  const db = await openDatabase(config.db);
  await migrateToLatest(db, config.db.driver);
  const registry = new NodeRegistry(db);
  const ca = nodeCertificateAuthority(config.nodeAuthority);
  const { tunnel } = config.nodeAuthority;
  const sshd = new TunnelSshd({ dir: path.join(config.dataDir, 'tunnel'), port: tunnel.sshPort, user: tunnel.user, hostKey: new TunnelHostKey(tunnel.hostKeyFile), registry, logger });
  await sshd.start();
  const gateway = new NodeGateway({
    listen: config.nodeAuthority.gateway.listen,
    upstreams: { h2: config.temporalAddress, ssh: { host: TUNNEL_LISTEN_HOST, port: tunnel.sshPort } },
    credentials: await gatewayCredentials(ca, config.nodeAuthority),
    admits: admitsNode(registry),
    recheckMs: RECHECK_MS,
    logger,
  });
  const port = await gateway.start();
  logger.info('node gateway listening', {
    host: config.nodeAuthority.gateway.listen.host,
    port,
    temporal: `${config.temporalAddress.host}:${config.temporalAddress.port}`,
    tunnelSshd: `${TUNNEL_LISTEN_HOST}:${tunnel.sshPort}`,
  });
  // Approvals reach the tunnel's keys within this time (a revocation is also enforced by the gateway itself).
  const keys = setInterval(() => {
    sshd.refresh().catch((err: unknown) => logger.warn('could not update the tunnel’s authorized keys', { error: (err as Error).message }));
  }, RECHECK_MS);
  const renew = setInterval(() => {
    gatewayCredentials(ca, config.nodeAuthority).then(
      (c) => gateway.updateCredentials(c),
      (err: unknown) => logger.error('node gateway could not renew its certificate', { error: (err as Error).message }),
    );
  }, GATEWAY_CERT_RENEW_MS);
  const stop = () => {
    clearInterval(renew);
    clearInterval(keys);
    void gateway
      .close()
      .then(() => sshd.stop())
      .then(() => db.close())
      .then(() => logger.info('node gateway stopped'));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) console.error(err.message);
  else console.error('node gateway failed:', err);
  process.exit(1);
});
