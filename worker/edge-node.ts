/**
 * An edge node's worker (`hackstream-node run`): a session host that only dials out. It reaches
 * no database, no Redis and no Temporal of its own: Temporal through the node gateway with the
 * node's certificate (mutual TLS), the API for its heartbeats (signed with the node's key), and
 * the ingress's traffic comes back through its tunnel (worker/node-tunnel.ts) to the demux, which
 * runs as a process of its own with the ingress group (the host firewall lets only that group
 * into session networks, as on any node).
 *
 * It polls only its node's task queue and registers only the activities that act on this host:
 * the session's key and files, its container, its removal, its warm pool's containers. What the
 * control plane holds of a session (its row, routes, credentials, audit, reservation, the pool's
 * ready list) is the control queue's; here those are "nothing on this host". It reconciles its own engine at start, before it takes work, and
 * when the registry says it was lost, before it is back in service.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import Docker from 'dockerode';
import { socketsInUse, tcpTable } from '../activities/container-connections.js';
import { DockerSessionRuntime } from '../activities/docker-session-runtime.js';
import { nodeHostActivities } from '../activities/node-host-activities.js';
import { engineReconciler, type ReconcileDeps } from '../activities/reconciler.js';
import { sessionKeyActivities } from '../activities/session-certificates.js';
import { TemporalSessionEvents } from '../activities/session-events.js';
import { ProfileVolumes } from '../activities/profile-volumes.js';
import { SessionFiles } from '../activities/session-files.js';
import { IptablesPacketFilter, SessionFirewall } from '../activities/session-firewall.js';
import { TemporalSessionWorkflowStatus } from '../activities/session-workflow-status.js';
import { StartAdmission } from '../activities/start-admission.js';
import { SubnetPool } from '../activities/subnet-pool.js';
import { warmContainerActivities } from '../activities/warm-containers.js';
import { stopChild } from '../core/child-process.js';
import { XPRA_PORTS } from '../core/ingress-names.js';
import type { Logger } from '../core/logger.js';
import { nodeTaskQueue } from '../workflows/messages.js';
import { WorkerMetrics } from './metrics.js';
import type { NodeEnrolment } from './node-enrolment.js';
import { EnrolmentError, nodeFiles } from './node-enrolment.js';
import { NodeTunnel, tunnelOf } from './node-tunnel.js';
import { repeatEvery } from './repeat-every.js';
import { SessionMonitor } from './session-monitor.js';
import { sessionUserOnHost } from './user-namespace.js';
import { reportHostMemoryMerge } from './host-memory-merge.js';

export interface EdgeNodeOptions {
  /** The node's directory (its key, certificate, gateway.json, sessions' files). */
  dir: string;
  nodeId: string;
  /** The API client the node enrolled with: its heartbeats and certificate renewals go there. */
  api: Pick<NodeEnrolment, 'heartbeat' | 'fetchCertificate'>;
  /** How often its certificate is renewed; default: at half the certificate's life. */
  renewSeconds?: number | undefined;
  dockerSocket: string;
  sessionSubnets: string;
  ingressGroup: string;
  /** Whether session containers let the kernel merge their identical pages (HACKSTREAM_SESSION_MEMORY_MERGE's). */
  memoryMerge?: boolean;
  heartbeatSeconds: number;
  pollSeconds: number;
  reconcileGraceSeconds: number;
  /** How to run the demux: this command with `demux …` after it (node-cli.ts). */
  demuxCommand: string[];
  logger: Logger;
}

export interface EdgeNode {
  run(): Promise<void>;
  close(): Promise<void>;
}

export async function startEdgeNode(opts: EdgeNodeOptions): Promise<EdgeNode> {
  const { logger } = opts;
  const gateway = await tunnelOf(opts.dir);
  if (!gateway.temporal) throw new Error('this node was not told its task queue: run `hackstream-node renew`');
  const { namespace, taskQueue } = gateway.temporal;
  let temporal = await temporalThroughGateway(opts.dir, gateway, namespace);

  const docker = new Docker({ socketPath: opts.dockerSocket });
  const runtime = new DockerSessionRuntime(docker, new SubnetPool(opts.sessionSubnets), taskQueue, { memoryMerge: opts.memoryMerge ?? false });
  await reportHostMemoryMerge(opts.memoryMerge ?? false, logger);
  const firewall = new SessionFirewall(new IptablesPacketFilter(), { ingressGroup: opts.ingressGroup });
  await firewall.install();
  const sessionUser = await sessionUserOnHost(docker, { required: true, remapUser: 'dockremap' }, logger);
  const sessionFiles = new SessionFiles(path.join(opts.dir, 'sessions'), sessionUser);
  const profiles = new ProfileVolumes(path.join(opts.dir, 'profiles'), sessionUser);
  const metrics = new WorkerMetrics();
  // Through whichever connection is current: a renewed certificate brings new ones (renew below).
  const events = delegating(() => new TemporalSessionEvents(temporal.client));
  const admission = new StartAdmission(Math.max(2, os.availableParallelism()));
  // What the control plane holds of a session (its routes, credentials, row, reservation, the
  // pools' ready lists) is not on this host: here, there is none of it to remove or list.
  const none =
    <T>(value: T) =>
    (): Promise<T> =>
      Promise.resolve(value);
  const noRoutesHere = { remove: none(undefined), list: none([]), collectLeftovers: none(0) };
  const noCredentialsHere = { revokeAll: none(0), sessionsWithCredentials: none<string[]>([]) };
  const hostDeps = { runtime, firewall, files: sessionFiles, liveFiles: sessionFiles, profiles, admission, routes: noRoutesHere, credentials: noCredentialsHere };
  const activities = { ...sessionKeyActivities(hostDeps), ...nodeHostActivities(hostDeps), ...warmContainerActivities(hostDeps) };
  const reconcileDeps: ReconcileDeps = {
    ...hostDeps,
    store: { nonFinal: none([]), finaliseLost: none(false) },
    nodes: { reservations: none([]), release: none(false) },
    // The engine's reconcile pass leaves every pool container to the pool-warming workflow, which
    // removes those no session claimed (a node's ready list is the control plane's).
    pools: { readySessionIds: async () => new Set((await runtime.listManaged()).filter((c) => c.pool).map((c) => c.sessionId)) },
    workflows: delegating(() => new TemporalSessionWorkflowStatus(temporal.client)),
    audit: {
      record: (e: { targetId?: string | null; details?: unknown }) => {
        logger.info('removed what a lost session left', { sessionId: e.targetId, details: e.details });
        return Promise.resolve();
      },
    },
    metrics,
  };
  const reconcile = engineReconciler(reconcileDeps);
  const reconcileHere = async (why: string) => {
    const report = await reconcile({ graceSeconds: opts.reconcileGraceSeconds });
    if (report.reconciled > 0) logger.info('reconciled this node’s engine', { why, ...report });
  };
  await reconcileHere('start');

  const newWorker = (connection: NativeConnection) =>
    Worker.create({
      connection,
      namespace,
      taskQueue: nodeTaskQueue(taskQueue, opts.nodeId),
      activities,
      identity: `${opts.nodeId}@${os.hostname()}-${process.pid}`,
      // A worker retired by a renewal (or stopped) lets what it runs finish: a provisioning is not cut short.
      shutdownGraceTime: '1 minute',
    });
  let worker = await newWorker(temporal.native);
  // The node is done when its current worker stops (a signal, a revocation), not when a renewal retires one.
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const runs = new Map<Worker, Promise<void>>();
  const runWorker = (w: Worker) => {
    const run = w.run().then(
      () => {
        if (w === worker) finish();
      },
      (err: unknown) => {
        logger.error('the node’s worker stopped with an error', { error: String(err) });
        if (w === worker) finish();
      },
    );
    runs.set(w, run);
    return run;
  };
  let retiring: Promise<void> = Promise.resolve();

  /**
   * A fresh certificate, and Temporal connections made with it: a new worker polls before the
   * old one stops (letting its running activities finish), so no task waits.
   */
  const renew = async () => {
    const answer = await opts.api.fetchCertificate();
    if (!answer.approved) return;
    const next = await temporalThroughGateway(opts.dir, gateway, namespace);
    const nextWorker = await newWorker(next.native);
    const [oldWorker, old] = [worker, temporal];
    [worker, temporal] = [nextWorker, next];
    void runWorker(nextWorker);
    oldWorker.shutdown();
    retiring = retiring.then(async () => {
      await runs.get(oldWorker);
      runs.delete(oldWorker);
      await old.native.close();
      await old.connection.close();
    });
    logger.info('certificate renewed; Temporal reconnected with it', { node: opts.nodeId, notAfter: answer.notAfter.toISOString() });
  };
  const renewals = repeatEvery(opts.renewSeconds ?? Math.max(60, (temporal.notAfter - Date.now()) / 2000), () =>
    renew().catch((err: unknown) => {
      logger.warn('renewing the node’s certificate failed; trying again later', { error: String(err) });
    }),
  );

  // The demux, with the ingress group; the tunnel delivers to it.
  const demux = await startDemux(opts, gateway.serverName, taskQueue);
  const tunnel = new NodeTunnel({ dir: opts.dir, target: { host: '127.0.0.1', port: demux.port }, logger });
  await tunnel.start();

  let failing = false;
  const beat = async () => {
    const state = await opts.api.heartbeat();
    if (state === 'lost') {
      logger.warn('this node was marked lost: collecting what its sessions left, and back in service', { node: opts.nodeId });
      await reconcileHere('back from lost');
      await opts.api.heartbeat(true);
    }
    if (failing) logger.info('node heartbeats reach the API again', { node: opts.nodeId });
    failing = false;
  };
  await beat();
  const heartbeats = repeatEvery(opts.heartbeatSeconds, () =>
    beat().catch((err: unknown) => {
      if (err instanceof EnrolmentError && err.code === 'node_revoked') {
        // Revoked: the gateway has closed this node's connections; nothing more is asked of it.
        logger.error('this node was revoked: stopping', { node: opts.nodeId });
        if (worker.getState() === 'RUNNING') worker.shutdown();
        return;
      }
      if (!failing) logger.warn('node heartbeat failed', { node: opts.nodeId, error: String(err) });
      failing = true;
    }),
  );
  const monitor = new SessionMonitor({
    runtime,
    // Every session container of this engine, claimed warm ones included (they keep their pool's
    // label): the monitor asks each one's workflow whether it is watched yet; a warm container
    // nobody claimed has none.
    sessions: { watchable: async () => (await runtime.listManaged()).filter((c) => c.running).map((c) => ({ sessionId: c.sessionId, containerId: c.id })) },
    workflows: events,
    sockets: { inUse: socketsInUse, table: (pid) => tcpTable(pid, XPRA_PORTS) },
    metrics,
    logger,
    pollSeconds: opts.pollSeconds,
  });

  let started = false;
  return {
    run() {
      if (!started) {
        started = true;
        monitor.start();
        void runWorker(worker);
      }
      return finished;
    },
    async close() {
      heartbeats.stop();
      renewals.stop();
      await monitor.stop();
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await Promise.all(runs.values());
      await retiring;
      await tunnel.stop();
      await demux.stop();
      await temporal.native.close();
      await temporal.connection.close();
    },
  };
}

/** Calls go to whatever `current()` gives now (the Temporal clients change when the certificate is renewed). */
function delegating<T extends object>(current: () => T): T {
  return new Proxy({} as T, {
    get: (_target, prop) => {
      const target = current();
      const value = Reflect.get(target, prop) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** Temporal through the node gateway, with the certificate in the node's directory now. */
async function temporalThroughGateway(dir: string, gateway: { address: string; serverName: string }, namespace: string) {
  const files = nodeFiles(dir);
  const [keyPem, certPem, caPem] = await Promise.all([files.key, files.certificate, files.caCertificate].map((f) => readFile(f)));
  const tls = { serverNameOverride: gateway.serverName, serverRootCACertificate: caPem!, clientCertPair: { crt: certPem!, key: keyPem! } };
  const native = await NativeConnection.connect({ address: gateway.address, tls });
  const connection = await Connection.connect({ address: gateway.address, tls });
  return { native, connection, client: new Client({ connection, namespace }), notAfter: new X509Certificate(certPem!).validToDate.getTime() };
}

/** The demux process (worker/session-demux.ts): started with the ingress group; resolves with its port. */
async function startDemux(opts: EdgeNodeOptions, gatewayName: string, taskQueue: string): Promise<{ port: number; stop(): Promise<void> }> {
  const command = ['setpriv', '--regid', opts.ingressGroup, '--clear-groups', '--', ...opts.demuxCommand, 'demux', '--gateway-name', gatewayName, '--docker-socket', opts.dockerSocket, '--stack', taskQueue];
  const child: ChildProcess = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout! });
    lines.once('line', (line) => {
      const found = /^listening on 127\.0\.0\.1:(\d+)$/.exec(line.trim());
      if (found) resolve(Number(found[1]));
      else reject(new Error(`the demux said: ${line}`));
    });
    child.once('exit', (code) => reject(new Error(`the demux exited (${code}) before listening`)));
  });
  opts.logger.info('session demux listening', { port, group: opts.ingressGroup });
  return {
    port,
    stop: () => stopChild(child),
  };
}
