/**
 * A control plane for edge-node tests, on the real stack: a worker of its own (workflows, routes,
 * records) on its own task queue and database, the API with the node gateway's address, and the
 * node gateway with its tunnel sshd as the gateway process runs them. Every node keeps a warm
 * pool of one container, looked after every few seconds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadWorkerConfig } from '../../core/config.js';
import { migrateToLatest, openDatabase, type Database } from '../../core/db/orm.js';
import { createLogger } from '../../core/logger.js';
import { nodeCertificateAuthority } from '../../core/node-identity.js';
import { NodeRegistry } from '../../core/node-registry.js';
import { TunnelHostKey } from '../../core/node-tunnel.js';
import { admitsNode, gatewayCredentials } from '../../node-gateway/gateway-admission.js';
import { NodeGateway } from '../../node-gateway/node-gateway.js';
import { TunnelSshd } from '../../node-gateway/tunnel-sshd.js';
import { createSessionWorker, type SessionWorker } from '../../worker/session-worker.js';
import { installTemporalRuntime } from '../../worker/temporal-runtime.js';
import { poolScheduleId } from '../../workflows/messages.js';
import { removePoolContainers } from './docker.js';
import { startApiOn, type ApiUnderTest } from './api-under-test.js';
import { workflowsEntry } from './paths.js';
import { freePort } from './ports.js';
import type { StackInfo } from './test-stack.js';

export interface EdgeControlPlane {
  t: ApiUnderTest;
  taskQueue: string;
  gateway: NodeGateway;
  sshd: TunnelSshd;
  registry: NodeRegistry;
  close(): Promise<void>;
}

/** `gatewayHost`: where the gateway listens, and the address nodes are told to dial. */
export async function startEdgeControlPlane(stack: StackInfo, gatewayHost = '127.0.0.1'): Promise<EdgeControlPlane> {
  const logger = createLogger({ level: 'error', service: 'edge-control-plane', json: false });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hs-edge-control-'));
  const gatewayPort = await freePort();
  const taskQueue = `hs-edge-${process.pid}`;
  const env = {
    ...stack.env,
    HACKSTREAM_TASK_QUEUE: taskQueue,
    HACKSTREAM_POOL: 'firefox:auto:1',
    HACKSTREAM_POOL_INTERVAL_SECONDS: '5',
    HACKSTREAM_DB_PATH: path.join(dir, 'edge.sqlite'),
    HACKSTREAM_NODE_HEARTBEAT_SECONDS: '1',
    HACKSTREAM_WORKER_METRICS_PORT: '0',
    HACKSTREAM_NODE_GATEWAY_ADDRESS: `${gatewayHost}:${gatewayPort}`,
  };
  installTemporalRuntime(logger);
  const config = loadWorkerConfig({ ...env, HACKSTREAM_NODE_ID: 'alpha' });
  const db: Database = await openDatabase(config.db);
  await migrateToLatest(db, config.db.driver);
  const worker: SessionWorker = await createSessionWorker({ config, logger, db, workflows: { workflowsPath: workflowsEntry } });
  void worker.run();
  const t = await startApiOn(stack, env);
  const registry = new NodeRegistry(t.api.db);
  const sshPort = await freePort();
  const sshd = new TunnelSshd({ dir: path.join(dir, 'tunnel'), port: sshPort, user: t.config.nodeAuthority.tunnel.user, hostKey: new TunnelHostKey(t.config.nodeAuthority.tunnel.hostKeyFile), registry, logger });
  await sshd.start();
  const temporal = stack.temporalAddress;
  const gateway = new NodeGateway({
    listen: { host: gatewayHost, port: gatewayPort },
    upstreams: { h2: { host: temporal.slice(0, temporal.lastIndexOf(':')), port: Number(temporal.slice(temporal.lastIndexOf(':') + 1)) }, ssh: { host: '127.0.0.1', port: sshPort } },
    credentials: await gatewayCredentials(nodeCertificateAuthority(t.config.nodeAuthority), t.config.nodeAuthority),
    admits: admitsNode(registry),
    recheckMs: 1000,
    logger,
  });
  await gateway.start();
  return {
    t,
    taskQueue,
    gateway,
    sshd,
    registry,
    async close() {
      await gateway.close();
      await sshd.stop();
      await t.temporal.schedule.getHandle(poolScheduleId(taskQueue)).delete().catch(() => undefined);
      await t.close();
      await worker.close();
      // What a warm-up under way at the end left on the host's engine.
      await removePoolContainers(taskQueue, config.node.id, 'firefox-auto');
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
