/** The Express application: JSON in, JSON out, every error as `{ error: { code, message } }`. */
import { trace } from '@opentelemetry/api';
import express from 'express';
import type { Client } from '@temporalio/client';
import type { Redis } from 'ioredis';
import type { ApiConfig } from '../core/config.js';
import type { Database } from '../core/db/orm.js';
import type { Logger } from '../core/logger.js';
import { AuditLog } from '../core/audit-log.js';
import { ConnectCredentials } from '../core/connect-credentials.js';
import { RedisPoolStore } from '../core/pool-store.js';
import { ProfileRows } from '../core/profile-rows.js';
import { ProfileAdmin } from './profiles/profile-admin.js';
import { SessionRows } from '../core/session-rows.js';
import { AccessTokens } from './auth/access-tokens.js';
import { createPassport, requireBearer } from './auth/authentication.js';
import { ProxyIdentity } from './auth/proxy-identity.js';
import { ProxySignIn } from './auth/proxy-sign-in.js';
import { LoginService } from './auth/login-service.js';
import { LoginThrottle } from './auth/login-throttle.js';
import { limitConcurrentHashes } from './auth/passwords.js';
import { ThrottledAudit } from './auth/throttled-audit.js';
import { OneTimeCodes } from './auth/one-time-codes.js';
import { Reauthentication } from './auth/reauthentication.js';
import { RefreshTokens } from './auth/refresh-tokens.js';
import { RevokedFamilies } from './auth/revoked-families.js';
import { SecretBox } from './auth/secret-box.js';
import { Totp } from './auth/totp.js';
import { ConnectDescriptors } from './connect/connect-descriptor.js';
import { RefusalAudit } from './connect/refusal-audit.js';
import { errorHandler, notFoundRoute } from './http-error.js';
import { RoleEgressOpenings } from './quotas/role-egress.js';
import { NodeAdmin } from './nodes/node-admin.js';
import { NodeAgent } from './nodes/node-agent.js';
import { EnrolmentThrottle } from './nodes/enrolment-throttle.js';
import { nodeAgentRoutes } from './routes/node-agent-routes.js';
import { nodeCertificateAuthority } from '../core/node-identity.js';
import { TunnelHostKey } from '../core/node-tunnel.js';
import { NodeRegistry } from '../core/node-registry.js';
import { QuotaService } from './quotas/quota-service.js';
import { RedisMutex } from './redis-mutex.js';
import { requestContext, requireJsonBody } from './request-context.js';
import { requestTracing } from './request-tracing.js';
import { securityHeaders } from './security-headers.js';
import { adminRoutes } from './routes/admin-routes.js';
import { accountRoutes, loginRoutes } from './routes/auth-routes.js';
import { connectRoutes, ingressRoutes } from './routes/connect-routes.js';
import { aptRoutes } from './routes/apt-routes.js';
import { healthRoutes } from './routes/health-routes.js';
import { metricsRoutes } from './routes/metrics-routes.js';
import { docsRoutes } from './routes/docs-routes.js';
import { dashboardRoutes } from './routes/dashboard-routes.js';
import { HACKSTREAM_VERSION } from '../core/package-info.js';
import { sessionRoutes } from './routes/session-routes.js';
import { ApiMetrics } from './metrics.js';
import { PoolClaims } from './sessions/pool-claims.js';
import { AdminOverviews } from './overview/admin-overview.js';
import { SessionService } from './sessions/session-service.js';
import { AccountAccess } from './users/account-access.js';
import { UserDirectory } from './users/user-directory.js';
import { UserService } from './users/user-service.js';

export interface ApiDeps {
  config: ApiConfig;
  logger: Logger;
  db: Database;
  redis: Redis;
  temporal: Client;
}

export function createApp(deps: ApiDeps): express.Express {
  const { config, logger, db, redis, temporal } = deps;
  const audit = new AuditLog(db);
  const mutex = new RedisMutex(redis);
  const users = new UserDirectory(db);
  const accessTokens = new AccessTokens(config.jwtSecret, config.accessTokenTtlSeconds);
  const refreshTokens = new RefreshTokens(db, config.refreshTokenTtlSeconds, config.refreshRetrySeconds);
  const revoked = new RevokedFamilies(redis, config.accessTokenTtlSeconds);
  const codes = new OneTimeCodes(db);
  const totp = new Totp(db, new SecretBox(config.secretKey), codes);
  limitConcurrentHashes(config.passwordHashConcurrency);
  const throttle = new LoginThrottle(redis, config.loginLimits);
  const login = new LoginService({ users, throttle, throttledAudit: new ThrottledAudit(redis, audit), totp, codes, refreshTokens, accessTokens, revoked, audit });
  const passport = createPassport(users);
  const rows = new SessionRows(db);
  const profileRows = new ProfileRows(db);
  const quotas = new QuotaService(config, db, rows, mutex, profileRows);
  const connectTokens = new ConnectCredentials(redis, { tokenSeconds: config.connectTokenTtlSeconds, resumeSeconds: config.resumeTtlSeconds });
  const descriptors = new ConnectDescriptors(config, connectTokens);
  const poolStore = new RedisPoolStore(redis, config.temporal.taskQueue);
  const nodes = new NodeRegistry(db);
  const metrics = new ApiMetrics(poolStore, config, nodes);
  const pools = new PoolClaims(poolStore, nodes, temporal, config, metrics, logger);
  const egress = new RoleEgressOpenings(config, db, audit);
  const sessions = new SessionService({ config, rows, temporal, logger, descriptors, quotas, egress, audit, pools, metrics });
  const profileAdmin = new ProfileAdmin({ profileRows, rows, quotas, temporal, taskQueue: config.temporal.taskQueue, audit });
  const accountAccess = new AccountAccess(temporal, config.temporal.taskQueue);
  const accounts = new UserService({ db, audit, codes, refreshTokens, revoked, credentials: connectTokens, totp, quotas, accountAccess, mutex, logger, inviteTtlSeconds: config.inviteTtlSeconds, localAccounts: config.signIn.localAccounts });

  const app = express();
  // The global tracer: real once main() started tracing (OTEL_*), a no-op otherwise.
  const tracing = requestTracing(trace.getTracer('hackstream'));
  app.use(tracing.start);
  app.disable('x-powered-by');
  app.use(securityHeaders());
  // Behind Traefik on the same host: the client's address comes from its X-Forwarded-For.
  app.set('trust proxy', config.trustProxy === 'true' ? true : config.trustProxy === 'false' ? false : config.trustProxy);
  app.set('json spaces', 0);
  app.use(requestContext(logger));
  app.use(requireJsonBody);
  app.use(express.json({ limit: '16kb', strict: true }));
  app.use(passport.initialize());
  app.use(tracing.resume);

  // Public.
  const readiness = { db, redis, temporal, namespace: config.temporal.namespace };
  app.use(healthRoutes(readiness));
  app.use(metricsRoutes(metrics));
  app.use(docsRoutes(HACKSTREAM_VERSION));
  app.use(dashboardRoutes(config.dashboardDir));
  app.use(aptRoutes(config.aptRepoDir));
  const ownerActive = async (userId: string) => (await users.findActive(userId)) !== null;
  app.use(ingressRoutes(connectTokens, descriptors, { domain: config.ingress.domain, resumeTtlSeconds: config.resumeTtlSeconds }, { log: audit, refusals: new RefusalAudit(redis, audit) }, ownerActive, logger));
  const proxySignIn = new ProxySignIn(config.signIn.proxy ? new ProxyIdentity(config.signIn.proxy) : null, users, login, audit);
  app.use(loginRoutes(passport, login, accounts, { localAccounts: config.signIn.localAccounts, proxy: proxySignIn }));
  app.use(nodeAgentRoutes(new NodeAgent(nodes, nodeCertificateAuthority(config.nodeAuthority), config.nodeAuthority, audit, new EnrolmentThrottle(redis, config.nodeAuthority.enrolmentsPerHour), new TunnelHostKey(config.nodeAuthority.tunnel.hostKeyFile), config.temporal)));
  // Everything else under /v1 needs a valid access token; admin routes also the admin role.
  app.use('/v1', requireBearer(accessTokens, users, revoked));
  app.use(accountRoutes(login, totp, quotas, { reauth: new Reauthentication(users, login), accounts }));
  app.use(sessionRoutes(sessions, config));
  app.use(connectRoutes(sessions));
  app.use(adminRoutes(accounts, audit, egress, new AdminOverviews({ config, rows, pools: poolStore, redis, readiness }), new NodeAdmin(nodes, audit), profileAdmin));

  app.use(notFoundRoute);
  app.use(errorHandler(logger, metrics));
  return app;
}
