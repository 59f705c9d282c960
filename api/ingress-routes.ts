/**
 * The API's own entry in the ingress, in Traefik's file-provider directory: its router (the
 * public paths), its service, and the ForwardAuth middleware through which every session's
 * browser route asks the API. The API writes it at start because it is the API's own address
 * and paths; the workers write only the ingress certificate and the sessions' routes.
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomically } from '../core/atomic-file.js';
import type { IngressConfig } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { API_ROUTES_FILE, apiRouteConfig, dynamicConfigText } from '../core/traefik-dynamic-config.js';
import { RETRY_AFTER_SECONDS } from './http-error.js';

/** Idempotent: an unchanged file is left alone, since Traefik reloads on every write. */
export async function publishApiRoutes(ingress: Pick<IngressConfig, 'routesDir' | 'apiUpstream' | 'domain'>, logger: Logger): Promise<void> {
  const file = path.join(ingress.routesDir, API_ROUTES_FILE);
  const text = dynamicConfigText(apiRouteConfig(ingress.apiUpstream, ingress.domain, RETRY_AFTER_SECONDS));
  if ((await readFile(file, 'utf8').catch(() => null)) === text) return;
  try {
    await mkdir(ingress.routesDir, { recursive: true, mode: 0o700 });
    // Only Traefik reads it, as root (in the stack and in docker-compose.yml).
    await writeFileAtomically(file, text, { mode: 0o600 });
  } catch (err) {
    // Without this file the ingress neither reaches the API nor lets a browser into a session.
    throw new Error(`cannot write the API's ingress routes to ${file} (HACKSTREAM_ROUTES_DIR): ${(err as Error).message}`, { cause: err });
  }
  logger.info('wrote the API routes for the ingress', { file, upstream: ingress.apiUpstream });
}
