/**
 * Checks a real response of the API against its contract (api/contract/operations.ts): the route
 * is documented, the status is one the route answers, and a JSON body parses with the schema of
 * that status (errors with the `Error` schema). Every call a test makes through the API under test
 * goes through here, so the contract is held to by all the integration and security tests.
 */
import { OPERATIONS, type Operation } from '../../api/contract/operations.js';
import { errorResponse } from '../../api/contract/responses.js';

const matchers = OPERATIONS.map((op) => ({
  op,
  // `{file}` (apt) may span several segments; every other parameter is one segment.
  pattern: new RegExp(`^${op.path.replace(/\{file\}/g, '.+').replace(/\{[^}]+\}/g, '[^/]+')}$`),
}));

export function findOperation(method: string, path: string): Operation | undefined {
  const pathname = new URL(path, 'http://x').pathname;
  return matchers.find((m) => m.op.method === method.toLowerCase() && m.pattern.test(pathname))?.op;
}

/** Why this response breaks the contract, or null if it keeps it. */
export function contractViolation(method: string, path: string, status: number, headers: Record<string, string | string[] | undefined>, body: unknown): string | null {
  const where = `${method} ${path} → ${status}`;
  const op = findOperation(method, path);
  const spec = op?.responses[status];
  if (!spec) {
    if (status < 400) return op ? `${where}: status not in the contract of ${op.method.toUpperCase()} ${op.path}` : `${where}: no such route in the contract`;
    const parsed = errorResponse.safeParse(body);
    return parsed.success ? null : `${where}: the error does not match the Error schema: ${parsed.error.message} (body ${JSON.stringify(body)})`;
  }
  const type = String(headers['content-type'] ?? '');
  if (spec.contentType) return type.startsWith(spec.contentType) ? null : `${where}: content-type ${type}, the contract says ${spec.contentType}`;
  if (!spec.schema) return body === null || body === '' ? null : `${where}: the contract says no body, got ${JSON.stringify(body)}`;
  if (!type.startsWith('application/json')) return `${where}: content-type ${type}, the contract says JSON`;
  const parsed = spec.schema.safeParse(body);
  return parsed.success ? null : `${where}: the body does not match the contract: ${parsed.error.message}`;
}

interface RouteLayer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: RouteLayer[] };
}

/** `METHOD /path` (OpenAPI form) of every route the Express application has, in registration order. */
export function expressRoutes(app: { router: { stack: RouteLayer[] } }): string[] {
  const out: string[] = [];
  const walk = (stack: RouteLayer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        // router.all (the ForwardAuth check) is documented as the GET that Traefik sends.
        const methods = Object.keys(layer.route.methods).map((m) => (m === '_all' ? 'get' : m));
        for (const p of paths) for (const m of methods) out.push(`${m.toUpperCase()} ${p.replace(/:(\w+)/g, '{$1}')}`);
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack);
      }
    }
  };
  walk(app.router.stack);
  return out;
}
