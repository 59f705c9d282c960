/** The Express application: JSON in, JSON out, every error as `{ error: { code, message } }`. */
import express from 'express';
import type { Client } from '@temporalio/client';
import type { Redis } from 'ioredis';
import type { ApiConfig } from '../core/config.js';
import type { Database } from '../core/db/orm.js';
import type { Logger } from '../core/logger.js';
import { AccessTokens } from './auth/access-tokens.js';
import { createPassport, requireBearer } from './auth/authentication.js';
import { errorHandler, notFoundRoute } from './http-error.js';
import { requestContext, requireJsonBody } from './request-context.js';
import { loginRoutes, meRoutes } from './routes/auth-routes.js';
import { ConnectDescriptors } from './connect/connect-descriptor.js';
import { ConnectTokens } from './connect/connect-tokens.js';
import { connectRoutes, ingressRoutes } from './routes/connect-routes.js';
import { healthRoutes } from './routes/health-routes.js';
import { sessionRoutes } from './routes/session-routes.js';
import { SessionService } from './sessions/session-service.js';
import { UserDirectory } from './users/user-directory.js';

export interface ApiDeps {
  config: ApiConfig;
  logger: Logger;
  db: Database;
  redis: Redis;
  temporal: Client;
}

export function createApp(deps: ApiDeps): express.Express {
  const { config, logger, db, redis, temporal } = deps;
  const users = new UserDirectory(db);
  const tokens = new AccessTokens(config.jwtSecret, config.accessTokenTtlSeconds);
  const passport = createPassport(users);
  const connectTokens = new ConnectTokens(redis, { tokenSeconds: config.connectTokenTtlSeconds, resumeSeconds: config.resumeTtlSeconds });
  const descriptors = new ConnectDescriptors(config, connectTokens);
  const sessions = new SessionService({ config, db, temporal, logger, descriptors });

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy);
  app.set('json spaces', 0);
  app.use(requestContext(logger));
  app.use(requireJsonBody);
  app.use(express.json({ limit: '16kb', strict: true }));
  app.use(passport.initialize());

  app.use(healthRoutes({ db, redis, temporal, namespace: config.temporal.namespace }));
  app.use(ingressRoutes(connectTokens, descriptors, config.resumeTtlSeconds, logger));
  app.use(loginRoutes(passport, tokens));
  app.use('/v1', requireBearer(tokens, users));
  app.use(meRoutes());
  app.use(sessionRoutes(sessions));
  app.use(connectRoutes(sessions));

  app.use(notFoundRoute);
  app.use(errorHandler(logger));
  return app;
}
