/**
 * Builds the real dependencies of the session activities and the Temporal worker that runs them.
 * Used by worker/main.ts and by the integration tests, so both run the same wiring.
 */
import os from 'node:os';
import { Client, Connection, ScheduleOverlapPolicy } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { trace } from '@opentelemetry/api';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import Docker from 'dockerode';
import { connectRedis } from '../core/redis-connection.js';
import { temporalConnectionOptions } from '../core/temporal-connection.js';
import { createActivities, drainPools, type ActivityDeps } from '../activities/index.js';
import { DockerSessionRuntime } from '../activities/docker-session-runtime.js';
import { TemporalSessionEvents } from '../activities/session-events.js';
import { socketsInUse, tcpTable } from '../activities/container-connections.js';
import { TemporalSessionWorkflowStatus } from '../activities/session-workflow-status.js';
import { credentialRevocation } from '../core/connect-credentials.js';
import { RedisPoolStore } from '../core/pool-store.js';
import { StartAdmission } from '../activities/start-admission.js';
import { ProfileVolumes } from '../activities/profile-volumes.js';
import { ProfileRows } from '../core/profile-rows.js';
import { SessionFiles } from '../activities/session-files.js';
import { IptablesPacketFilter, SessionFirewall } from '../activities/session-firewall.js';
import { SubnetPool } from '../activities/subnet-pool.js';
import { AccountStates } from '../core/account-states.js';
import { NodeRegistry } from '../core/node-registry.js';
import { nodeTaskQueue, reconcileScheduleId } from '../workflows/messages.js';
import { startNodePresence } from './node-presence.js';
import { watchForLostNodes } from './lost-nodes.js';
import { repeatEvery } from './repeat-every.js';
import { engineReconciler } from '../activities/reconciler.js';
import { SessionRows } from '../core/session-rows.js';
import { AuditLog } from '../core/audit-log.js';
import { TraefikFileRoutes } from '../activities/traefik-routes.js';
import type { WorkerConfig } from '../core/config.js';
import type { Database } from '../core/db/orm.js';
import type { Logger } from '../core/logger.js';
import { openCertificateAuthority } from './ca-setup.js';
import type { CertificateIssuer } from '../core/certificate-authority.js';
import { publishWorkerHealth } from './docker-health.js';
import { prepareIngress } from './ingress-setup.js';
import { WorkerMetrics } from './metrics.js';
import { SessionMonitor } from './session-monitor.js';
import { XPRA_PORTS } from '../core/ingress-names.js';
import { ensurePoolSchedule, poolWarmerInput } from './pool-schedule.js';
import { ensureReconcileSchedule } from './reconcile-schedule.js';
import { ensureSearchAttributes } from './search-attributes.js';
import { sessionUserOnHost } from './user-namespace.js';
import { WORKFLOW_INTERCEPTOR_MODULES } from './workflow-bundle.js';
import { traceDockerCalls } from '../activities/docker-tracing.js';
import { openKubeSessionHost, type KubeSessionHost } from './kube-session-host.js';
import type { KubeMonitoredWorkflows } from './kube-session-monitor.js';
import { startTracing, type Tracing } from '../core/tracing.js';
import { reportHostMemoryMerge } from './host-memory-merge.js';

/** A node-only worker's: the HackStream CA's key stays on the control hosts. */
const noCertificateAuthority: CertificateIssuer = {
  issueServerCertificate: () => Promise.reject(new Error('a node-only worker (HACKSTREAM_WORKER_ROLE=node) issues no certificate: the control queue does')),
  issueServerCertificateFor: () => Promise.reject(new Error('a node-only worker (HACKSTREAM_WORKER_ROLE=node) issues no certificate: the control queue does')),
  caCertificatePem: () => Promise.reject(new Error('a node-only worker (HACKSTREAM_WORKER_ROLE=node) holds no CA')),
};

/** The host's Docker engine: the session containers' runtime, the host firewall, the sessions' user on the host. */
async function openDockerSessionHost(config: WorkerConfig, logger: Logger) {
  const docker = new Docker({ socketPath: config.dockerSocket });
  traceDockerCalls(docker, trace.getTracer('hackstream'));
  await reportHostMemoryMerge(config.memoryMerge, logger);
  return {
    runtime: new DockerSessionRuntime(docker, new SubnetPool(config.sessionSubnets), config.temporal.taskQueue, { memoryMerge: config.memoryMerge }),
    firewall: new SessionFirewall(new IptablesPacketFilter(), { ingressGroup: config.ingressGroup, ingressSources: config.ingressSources }),
    sessionUser: await sessionUserOnHost(docker, config.userNamespace, logger),
  };
}

/** On a cluster, the session monitor (attach, activity, the app's exit) and the pods' watch (a pod lost with its node), started and stopped together. */
function withPodWatch(monitor: SessionMonitor, host: KubeSessionHost, workflows: KubeMonitoredWorkflows, everySeconds: number) {
  let watching: { stop(): void } | undefined;
  return {
    start() {
      monitor.start();
      watching ??= host.watch(workflows, everySeconds);
    },
    async stop() {
      watching?.stop();
      await monitor.stop();
    },
  };
}

/** A temporary file or directory older than this at start was left by a writer that died. */
const LEFTOVER_AGE_MS = 60_000;

export interface SessionWorkerOptions {
  config: WorkerConfig;
  logger: Logger;
  db: Database;
  /** Where the workflow code comes from: a prebuilt bundle in production, sources in tests. */
  workflows: Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'>;
  /** Where workflow spans go; without it (tests), nowhere. */
  tracing?: Pick<Tracing, 'spanProcessor' | 'resource'>;
}

export interface SessionWorker {
  /** The worker polling the control task queue; with HACKSTREAM_WORKER_ROLE=node, the node queue's. */
  worker: Worker;
  /** Resolves when the worker has shut down. */
  run(): Promise<void>;
  /** Where GET /metrics answers on 127.0.0.1. */
  metricsPort: number;
  /** Stops polling, lets running tasks finish, closes connections. */
  close(): Promise<void>;
}

export async function createSessionWorker(opts: SessionWorkerOptions): Promise<SessionWorker> {
  const { config, logger, db } = opts;
  const tracing = opts.tracing ?? startTracing('worker', {});
  const { namespace, taskQueue } = config.temporal;
  const identity = `${os.hostname()}-${process.pid}`;

  const connectionOptions = await temporalConnectionOptions(config.temporal);
  const clientConnection = await Connection.connect(connectionOptions);
  await ensureSearchAttributes(clientConnection, namespace, logger);
  const client = new Client({ connection: clientConnection, namespace, interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } });
  const nativeConnection = await NativeConnection.connect(connectionOptions);
  const redis = await connectRedis(config.redisUrl, logger, { failFast: false });

  const host = config.runtime === 'kubernetes' ? { kind: 'kubernetes' as const, ...openKubeSessionHost(config, logger) } : { kind: 'docker' as const, ...(await openDockerSessionHost(config, logger)) };
  const { runtime, firewall } = host;
  // Before any session can start: every session network is born under these rules.
  await firewall.install();
  // A node-only worker runs no workflow, writes no route and holds no CA: its sessions' keys are
  // made here and certified on the control queue (workflows/session-workflow.ts prepareFiles).
  const controlPlane = config.role === 'all';
  const ca = controlPlane ? await openCertificateAuthority(config.ingress, logger) : noCertificateAuthority;
  if (controlPlane) await prepareIngress(ca, config.ingress, logger);
  const probe = { ...config.ingress.ingressAddress, caPem: () => ca.caCertificatePem() };
  // A cluster's routes are its objects, made by the control queue's worker in the cluster.
  const routes = host.kind === 'kubernetes' && controlPlane ? await host.routes(config.ingress.domain, probe) : new TraefikFileRoutes(config.ingress.routesDir, config.ingress.domain, probe);
  const metrics = new WorkerMetrics();
  const sessionEvents = new TemporalSessionEvents(client);
  const admission = new StartAdmission(config.maxConcurrentStarts);
  const sessionRows = new SessionRows(db);
  const nodes = new NodeRegistry(db);
  metrics.observeStarts(admission);
  metrics.observeSessions(sessionRows, logger);
  const files = new SessionFiles(config.sessionFilesDir, host.kind === 'docker' ? host.sessionUser : undefined);
  const activityDeps: ActivityDeps = {
    runtime,
    firewall,
    store: sessionRows,
    accounts: new AccountStates(db),
    events: sessionEvents,
    certificates: ca,
    files,
    // A pod's Secret is fixed at its start: what changes later goes into the pod (kube-live-files.ts).
    liveFiles: host.kind === 'kubernetes' ? host.liveFiles : files,
    profiles: host.kind === 'docker' ? new ProfileVolumes(config.profilesDir, host.sessionUser) : host.profiles,
    profileRows: new ProfileRows(db),
    routes,
    credentials: credentialRevocation(redis),
    audit: new AuditLog(db),
    pools: new RedisPoolStore(redis, taskQueue),
    workflows: new TemporalSessionWorkflowStatus(client),
    metrics,
    domain: config.ingress.domain,
    sessionTokenSecret: config.sessionTokenSecret,
    admission,
    nodes,
    placement: config.placement,
    node: config.node.id,
  };
  const activities = createActivities(activityDeps);
  metrics.registerActivities(Object.keys(activities));
  // What a killed writer left half-written; anything younger may be a write in progress.
  const leftovers =
    (await activityDeps.files.collectLeftovers(LEFTOVER_AGE_MS)) + (controlPlane ? await activityDeps.routes.collectLeftovers(LEFTOVER_AGE_MS) : 0);
  if (leftovers > 0) logger.info('removed what an interrupted write left', { count: leftovers });

  const activityWorker = {
    connection: nativeConnection,
    namespace,
    identity,
    activities,
    // A stopping worker lets short activities (a provisioning step, a warm-up, a claim) finish
    // rather than spend one of their few attempts; what still runs then (the watcher activities
    // of sessions that began before the session monitor) is cancelled and resumes, by its retry
    // policy, on the next worker of the queue.
    shutdownGraceTime: '10s',
  } satisfies Partial<WorkerOptions>;
  const activityInterceptors: NonNullable<NonNullable<WorkerOptions['interceptors']>['activity']> = [
    metrics.activityInterceptors,
    (ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) }),
  ];
  const controlWorker = !controlPlane
    ? undefined
    : await Worker.create({
        ...activityWorker,
        taskQueue,
        ...opts.workflows,
        interceptors: {
          activity: activityInterceptors,
          // With a prebuilt bundle they are in it already (scripts/build-workflow-bundle.ts).
          ...(opts.workflows.workflowsPath ? { workflowModules: WORKFLOW_INTERCEPTOR_MODULES } : {}),
        },
        sinks: { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) },
      });
  // This node's own task queue: the activities acting on this host's engine for the sessions
  // placed here (workflows/session-workflow.ts onNode). No workflow runs on it.
  const nodeWorker = await Worker.create({ ...activityWorker, taskQueue: nodeTaskQueue(taskQueue, config.node.id), interceptors: { activity: activityInterceptors } });
  const stopHealth = publishWorkerHealth({ redis, identity, pingDocker: () => runtime.ping(), logger });
  // The reconcile schedule's pass runs on the control queue, on a control host's engine: a
  // node-only worker reconciles its own engine, before it takes work and then on the same interval.
  const reconcileEngine = engineReconciler(activityDeps);
  const reconcileHere = async (why: string) => {
    const report = await reconcileEngine({ graceSeconds: config.reconcile.graceSeconds });
    if (report.reconciled > 0) logger.info('reconciled this node’s engine', { why, ...report });
  };
  if (controlPlane) {
    await ensurePoolSchedule(client, config, logger);
    await ensureReconcileSchedule(client, config, logger);
  } else {
    await reconcileHere('start');
  }
  const presence = await startNodePresence({
    registry: nodes,
    node: config.node,
    logger,
    beforeReturn: controlPlane
      ? () => client.schedule.getHandle(reconcileScheduleId(taskQueue)).trigger(ScheduleOverlapPolicy.BUFFER_ONE)
      : () => reconcileHere('back from lost'),
  });
  const background = controlPlane
    ? watchForLostNodes({
        registry: nodes,
        sessions: sessionEvents,
        everySeconds: config.node.heartbeatSeconds,
        silentAfterSeconds: config.placement.aliveWithinSeconds,
        logger,
      })
    : repeatEvery(config.reconcile.intervalSeconds, () =>
        reconcileHere('interval').catch((err: unknown) => {
          logger.warn('reconciling this node’s engine failed', { error: String(err) });
        }),
      );
  const metricsServer = await metrics.serve(config.metricsPort, logger);
  const sessionMonitor = new SessionMonitor({
    runtime,
    sessions: { watchable: () => sessionRows.watchable(config.node.id) },
    workflows: sessionEvents,
    sockets: host.kind === 'docker' ? { inUse: socketsInUse, table: (pid) => tcpTable(pid, XPRA_PORTS) } : host.sockets,
    metrics,
    logger,
    pollSeconds: config.session.activityPollSeconds,
  });
  const monitor = host.kind === 'docker' ? sessionMonitor : withPodWatch(sessionMonitor, host, sessionEvents, config.session.activityPollSeconds);

  const workers = controlWorker ? [controlWorker, nodeWorker] : [nodeWorker];
  let running: Promise<void> | undefined;
  return {
    worker: controlWorker ?? nodeWorker,
    run() {
      if (!running) {
        running = Promise.all(workers.map((w) => w.run())).then(() => undefined);
        monitor.start();
      }
      return running;
    },
    metricsPort: metricsServer.port,
    async close() {
      stopHealth();
      presence.stop();
      background.stop();
      await monitor.stop();
      await metricsServer.close();
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await running?.catch((err: unknown) => logger.error('worker stopped with an error', { error: String(err) }));
      try {
        const drained = await drainPools(activityDeps, poolWarmerInput(config).pools);
        if (drained > 0) logger.info('removed the unclaimed warm containers', { count: drained });
      } catch (err) {
        // Left behind, they are taken back or removed as orphans by the next pool run.
        logger.warn('could not drain the warm pools', { error: String(err) });
      }
      await nativeConnection.close();
      await clientConnection.close();
      redis.disconnect();
    },
  };
}
