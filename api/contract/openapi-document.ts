/** The OpenAPI 3.1 document of the API, generated once from the operations' zod schemas. */
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject, type ZodOpenApiResponsesObject } from 'zod-openapi';
import { OPERATIONS, type Operation } from './operations.js';
import { errorResponse } from './responses.js';

const ERROR_TEXT: Record<number, string> = {
  400: 'the request is invalid: `message` names the field',
  401: 'not authenticated, or the credentials are wrong',
  403: 'not allowed for this account or role',
  404: 'no such resource (or not the caller’s)',
  409: 'conflicts with the current state',
  429: 'a limit was reached (`Retry-After` when it is a lockout)',
  503: 'a dependency is unavailable or the service is busy: try again (`Retry-After`)',
  504: 'not done in time (a session not ready within the create timeout is torn down)',
};

function responses(op: Operation): ZodOpenApiResponsesObject {
  const out: ZodOpenApiResponsesObject = {};
  for (const [status, spec] of Object.entries(op.responses)) {
    out[status as `${1 | 2 | 3 | 4 | 5}${string}`] = {
      description: spec.description,
      ...(spec.schema ? { content: { 'application/json': { schema: spec.schema } } } : {}),
      ...(spec.contentType ? { content: { [spec.contentType]: { schema: { type: 'string' } } } } : {}),
    };
  }
  for (const status of op.errors) {
    out[String(status) as `${1 | 2 | 3 | 4 | 5}${string}`] = { description: ERROR_TEXT[status] ?? 'error', content: { 'application/json': { schema: errorResponse } } };
  }
  out.default = { description: 'any other error', content: { 'application/json': { schema: errorResponse } } };
  return out;
}

function operation(op: Operation): ZodOpenApiOperationObject {
  return {
    operationId: `${op.method}${op.path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    tags: [op.tag],
    security: op.access === 'user' || op.access === 'admin' ? [{ bearer: [] }] : op.access === 'node' ? [{ nodeToken: [] }] : [],
    ...(op.access === 'admin' ? { 'x-hackstream-role': 'admin' } : {}),
    ...(op.params || op.query ? { requestParams: { ...(op.params ? { path: op.params } : {}), ...(op.query ? { query: op.query as never } : {}) } } : {}),
    ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: op.body } } } } : {}),
    responses: responses(op),
  };
}

export function buildOpenApiDocument(version: string): object {
  const paths: ZodOpenApiPathsObject = {};
  for (const op of OPERATIONS) {
    paths[op.path] = { ...paths[op.path], [op.method]: operation(op) };
  }
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'HackStream API',
      version,
      description:
        'Self-hosted streaming of desktop applications: sessions, accounts, quotas and audit. Errors always have the `Error` shape. ' +
        'Bearer routes take `Authorization: Bearer <access_token>` from `POST /v1/login`; admin routes also need the admin role. ' +
        "Node routes take `Authorization: Bearer <node token>`: an ES256 JWT (sub: the node's name, aud: hackstream-node-agent, at most five minutes old) signed with the key the node enrolled.",
    },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }, nodeToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT (ES256, signed by the node key)' } } },
    paths,
  });
}
