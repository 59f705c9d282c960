/**
 * Every route the API serves, with the schemas that validate its input (api/validation.ts) and
 * describe its answers (api/contract/responses.ts). The OpenAPI document is generated from this
 * list, the contract tests check each real response against it, and a test compares it with the
 * routes Express actually has, so a route cannot be added without its contract.
 */
import { z } from 'zod';
import { CONNECT_AUTH_PATH } from '../../core/ingress-names.js';
import {
  nodeIdParam,
  nodeEnrolmentBody,
  nodeHeartbeatBody,
  auditQuery,
  changePasswordBody,
  createSessionBody,
  createUserBody,
  listSessionsQuery,
  loginBody,
  patchUserBody,
  redeemBody,
  refreshBody,
  roleEgressBody,
  roleParam,
  sessionIdParam,
  totpBeginBody,
  totpConfirmBody,
  userIdParam,
  appParam,
} from '../validation.js';
import * as r from './responses.js';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
/** Who may call it: anyone, a logged-in user (bearer access token), an admin, an enrolled session node (a token signed with its key), or only Traefik. */
export type Access = 'public' | 'user' | 'admin' | 'node' | 'internal';

export interface ResponseSpec {
  description: string;
  /** JSON body; omitted for an empty body. */
  schema?: z.ZodType;
  /** A non-JSON body (the body is then not parsed by the contract tests). */
  contentType?: string;
}

export interface Operation {
  method: Method;
  /** OpenAPI form: `/v1/sessions/{id}`. */
  path: string;
  summary: string;
  description?: string;
  tag: string;
  access: Access;
  params?: z.ZodObject;
  query?: z.ZodType;
  body?: z.ZodType;
  responses: Record<number, ResponseSpec>;
  /** The error statuses this route answers on purpose (every error has the `Error` shape). */
  errors: number[];
}

const json = (description: string, schema: z.ZodType): ResponseSpec => ({ description, schema });
const empty = (description: string): ResponseSpec => ({ description });
const sessionId = z.object({ id: sessionIdParam.meta({ description: 'session id' }) });
const userId = z.object({ id: userIdParam.meta({ description: 'user id' }) });
const userApp = z.object({ id: userIdParam.meta({ description: 'user id' }), app: appParam.meta({ description: 'app' }) });
const role = z.object({ role: roleParam });
const nodeId = z.object({ id: nodeIdParam.meta({ description: 'node name' }) });
/** What any route behind a bearer token can answer besides its own errors. */
const AUTHENTICATED = [401, 503];

export const OPERATIONS: Operation[] = [
  // Health and files.
  { method: 'get', path: '/health', tag: 'health', access: 'public', summary: 'Liveness: the process answers', responses: { 200: json('alive', z.strictObject({ status: z.literal('ok') })) }, errors: [] },
  {
    method: 'get',
    path: '/ready',
    tag: 'health',
    access: 'public',
    summary: 'Readiness: the database, Redis, Temporal and (through the workers) Docker answer',
    responses: { 200: json('ready', r.readiness), 503: json('not ready: `checks` names what does not answer', r.readiness) },
    errors: [],
  },
  { method: 'get', path: '/metrics', tag: 'health', access: 'public', summary: "The API's Prometheus metrics", responses: { 200: { description: 'Prometheus text format', contentType: 'text/plain' } }, errors: [] },
  { method: 'get', path: '/v1/openapi.json', tag: 'health', access: 'public', summary: 'This document', responses: { 200: { description: 'OpenAPI 3.1', contentType: 'application/json' } }, errors: [] },
  {
    method: 'get',
    path: '/ca.pem',
    tag: 'health',
    access: 'public',
    summary: 'The HackStream CA certificate (pin it by the fingerprint in connect descriptors)',
    responses: { 200: { description: 'PEM certificate', contentType: 'application/x-pem-file' } },
    errors: [503],
  },
  {
    method: 'get',
    path: '/apt/{file}',
    tag: 'health',
    access: 'public',
    summary: "The client's signed apt repository (`file` may contain slashes)",
    params: z.object({ file: z.string() }),
    responses: { 200: { description: 'a repository file', contentType: 'application/octet-stream' } },
    errors: [404],
  },
  {
    method: 'get',
    path: CONNECT_AUTH_PATH,
    tag: 'internal',
    access: 'internal',
    summary: "Traefik's ForwardAuth check of a session's browser origin (not routed by the ingress)",
    description: 'Reads `X-Forwarded-Host`, `X-Forwarded-Uri`, `Origin`, `Sec-Fetch-*` and the resume cookie; `204` lets the request through (with `Set-Cookie` when a token was spent).',
    responses: { 204: empty('allowed') },
    errors: [401, 403],
  },

  // Logging in.
  {
    method: 'get',
    path: '/v1/auth/methods',
    tag: 'auth',
    access: 'public',
    summary: 'How one may sign in here: a password, the sign-in proxy (as this request came), or both',
    responses: { 200: json('the sign-in methods', r.signInMethods) },
    errors: [400],
  },
  { method: 'post', path: '/v1/login', tag: 'auth', access: 'public', summary: 'Log in', body: loginBody, responses: { 200: json('a token pair', r.tokenPair) }, errors: [400, 401, 403, 429, 503] },
  {
    method: 'post',
    path: '/v1/auth/proxy',
    tag: 'auth',
    access: 'public',
    summary: 'Sign in as the user the sign-in proxy vouches for (its identity headers, believed only from its addresses)',
    description:
      "The account is made at the first sign-in; its role follows the proxy's groups (HACKSTREAM_AUTH_PROXY_ROLES) at every one. A local account of the same name is never signed in to this way.",
    responses: { 200: json('a token pair', r.tokenPair) },
    errors: [400, 401, 403, 409, 503],
  },
  {
    method: 'post',
    path: '/v1/token/refresh',
    tag: 'auth',
    access: 'public',
    summary: 'A new token pair for a refresh token (spent by this call)',
    description: 'Presenting a spent refresh token revokes the whole login.',
    body: refreshBody,
    responses: { 200: json('a new token pair', r.tokenPair) },
    errors: [400, 401, 503],
  },
  {
    method: 'post',
    path: '/v1/redeem',
    tag: 'auth',
    access: 'public',
    summary: 'Redeem an invitation or password-reset code (once) and set the password',
    body: redeemBody,
    responses: { 200: json('the account', z.strictObject({ user: r.userView })) },
    errors: [400, 401, 403, 503],
  },

  // The caller's account.
  { method: 'get', path: '/v1/me', tag: 'account', access: 'user', summary: 'Who the token belongs to', responses: { 200: json('the caller', r.me) }, errors: AUTHENTICATED },
  { method: 'post', path: '/v1/logout', tag: 'account', access: 'user', summary: "End this login (its refresh and access tokens)", responses: { 204: empty('logged out') }, errors: AUTHENTICATED },
  { method: 'get', path: '/v1/quotas', tag: 'account', access: 'user', summary: "The caller's quota and usage", responses: { 200: json('quota and usage', r.quotaResponse) }, errors: AUTHENTICATED },
  {
    method: 'post',
    path: '/v1/me/password',
    tag: 'account',
    access: 'user',
    summary: 'Change the own password (ends every login of the account)',
    body: changePasswordBody,
    responses: { 204: empty('changed') },
    errors: [400, 401, 429, 503],
  },
  {
    method: 'post',
    path: '/v1/me/totp',
    tag: 'account',
    access: 'user',
    summary: 'Begin TOTP enrolment (needs the current password)',
    body: totpBeginBody,
    responses: { 200: json('the secret as a URI and a QR code (PNG data URL)', z.strictObject({ otpauth_uri: z.string(), qr_code: z.string() })) },
    errors: [400, 401, 409, 429, 503],
  },
  {
    method: 'post',
    path: '/v1/me/totp/confirm',
    tag: 'account',
    access: 'user',
    summary: 'Confirm TOTP enrolment with a first code',
    body: totpConfirmBody,
    responses: { 200: json('ten recovery codes, each works once, shown only here', z.strictObject({ recovery_codes: z.array(z.string()) })) },
    errors: [400, 401, 503],
  },

  // Sessions.
  {
    method: 'get',
    path: '/v1/apps',
    tag: 'sessions',
    access: 'user',
    summary: "The apps the caller's role may start, with their profile modes and warm qualities",
    responses: { 200: json('the apps', r.appList) },
    errors: AUTHENTICATED,
  },
  {
    method: 'post',
    path: '/v1/sessions',
    tag: 'sessions',
    access: 'user',
    summary: 'Start a session; answers once it is ready',
    body: createSessionBody,
    responses: { 201: json('the ready session with one-time connect credentials', r.connectableSession) },
    // 409: profile_in_use (a persistent profile has one session at a time); 403 also storage_quota_exceeded.
    errors: [400, 401, 403, 409, 429, 503, 504],
  },
  {
    method: 'get',
    path: '/v1/sessions',
    tag: 'sessions',
    access: 'user',
    summary: "Sessions, newest first, a page at a time: the caller's own (admins: everyone's with `all=1`), by state, user and app",
    query: listSessionsQuery,
    responses: { 200: json('a page of sessions', r.sessionPage) },
    errors: [400, 401, 403, 503],
  },
  { method: 'get', path: '/v1/sessions/{id}', tag: 'sessions', access: 'user', summary: 'One session', params: sessionId, responses: { 200: json('the session', r.sessionView) }, errors: [400, 401, 404, 503] },
  {
    method: 'post',
    path: '/v1/sessions/{id}/connect',
    tag: 'sessions',
    access: 'user',
    summary: 'Fresh one-time connect credentials for a running session',
    params: sessionId,
    responses: { 200: json('the session with a new connect descriptor', r.connectableSession) },
    errors: [400, 401, 404, 409, 503],
  },
  {
    method: 'post',
    path: '/v1/sessions/{id}/stop',
    tag: 'sessions',
    access: 'user',
    summary: 'Stop a session (idempotent)',
    params: sessionId,
    responses: { 200: json('stopped: the final state', r.sessionView), 202: json('still stopping after 15 s', r.sessionView) },
    errors: [400, 401, 404, 503],
  },

  // Administration.
  {
    method: 'post',
    path: '/v1/users',
    tag: 'admin',
    access: 'admin',
    summary: 'Create a user; without a password, invite them (the code is shown once)',
    body: createUserBody,
    responses: { 201: json('the account, and the invitation', r.createdUser) },
    errors: [400, 401, 403, 409, 503],
  },
  { method: 'get', path: '/v1/users', tag: 'admin', access: 'admin', summary: 'Every account (no secrets)', responses: { 200: json('accounts', z.strictObject({ users: z.array(r.userView) })) }, errors: [401, 403, 503] },
  { method: 'get', path: '/v1/users/{id}', tag: 'admin', access: 'admin', summary: 'One account', params: userId, responses: { 200: json('the account', r.userView) }, errors: [400, 401, 403, 404, 503] },
  {
    method: 'patch',
    path: '/v1/users/{id}',
    tag: 'admin',
    access: 'admin',
    summary: 'Change an account: role, disabled, quota overrides, password or TOTP reset',
    params: userId,
    body: patchUserBody,
    responses: { 200: json('the account (and a reset code)', r.updatedUser) },
    errors: [400, 401, 403, 404, 409, 503],
  },
  {
    method: 'get',
    path: '/v1/users/{id}/profiles',
    tag: 'admin',
    access: 'admin',
    summary: "An account's persistent profiles: the node each is on and what it uses",
    params: userId,
    responses: { 200: json('the profiles', z.strictObject({ profiles: z.array(r.profileView) })) },
    errors: [400, 401, 403, 503],
  },
  {
    method: 'delete',
    path: '/v1/users/{id}/profiles/{app}',
    tag: 'admin',
    access: 'admin',
    summary: "Delete an account's persistent profile of an app (its data on its node; audited)",
    params: userApp,
    responses: { 204: empty('deleted') },
    // 409 profile_in_use while a session has it; 503 node_unavailable when its node does not answer.
    errors: [400, 401, 403, 404, 409, 503],
  },
  { method: 'get', path: '/v1/roles/{role}/egress', tag: 'admin', access: 'admin', summary: "A role's egress openings", params: role, responses: { 200: json('the openings', r.roleEgressView) }, errors: [400, 401, 403, 503] },
  {
    method: 'put',
    path: '/v1/roles/{role}/egress',
    tag: 'admin',
    access: 'admin',
    summary: "Replace a role's added egress openings",
    params: role,
    body: roleEgressBody,
    responses: { 200: json('the openings', r.roleEgressView) },
    errors: [400, 401, 403, 503],
  },
  {
    method: 'get',
    path: '/v1/admin/overview',
    tag: 'admin',
    access: 'admin',
    summary: 'Sessions by state, pools, start figures of the last hour, dependencies and workers',
    responses: { 200: json('the overview', r.adminOverview) },
    errors: [401, 403, 503],
  },
  { method: 'get', path: '/v1/nodes', tag: 'admin', access: 'admin', summary: 'The session nodes: state, labels, capacity and what is reserved of it', responses: { 200: json('the nodes', r.nodeList) }, errors: [401, 403, 503] },
  ...(['approve', 'drain', 'revoke'] as const).map((action) => ({
    method: 'post' as const,
    path: `/v1/nodes/{id}/${action}`,
    tag: 'admin',
    access: 'admin' as const,
    summary: {
      approve: 'Put a node into service: an enrolled one waiting for approval, or a drained one back',
      drain: 'Place no new session on a node; its running sessions finish',
      revoke: 'Take a node out for good: nothing is placed on it and its credentials are refused',
    }[action],
    params: nodeId,
    responses: { 200: json('the node', r.nodeView) },
    errors: [400, 401, 403, 404, 409, 503],
  })),
  {
    method: 'post',
    path: '/v1/node-agent/enroll',
    tag: 'nodes',
    access: 'public',
    summary: "A session node's enrolment: its key's certificate request and what it offers; it waits, pending, for an admin to compare its fingerprint and approve it",
    body: nodeEnrolmentBody,
    responses: { 202: json('enrolled, waiting for approval', r.nodeEnrolment), 200: json('enrolled before with this key (a retry), no longer pending', r.nodeEnrolment) },
    errors: [400, 409, 429, 503],
  },
  {
    method: 'post',
    path: '/v1/node-agent/certificate',
    tag: 'nodes',
    access: 'node',
    summary: "An approved node's client certificate from the node CA (short-lived: asked again to renew), with the CA's certificate and the gateway to dial",
    responses: { 200: json('the certificate', r.nodeCertificate), 202: json('not approved yet: ask again after Retry-After', r.nodeCertificate) },
    errors: [401, 403, 503],
  },
  {
    method: 'post',
    path: '/v1/node-agent/heartbeat',
    tag: 'nodes',
    access: 'node',
    summary: "A node's sign of life, for a node whose worker reaches no database (an edge node): its last heartbeat is now, and the answer is its state",
    body: nodeHeartbeatBody,
    responses: { 200: json('the node’s state', r.nodeHeartbeat) },
    errors: [400, 401, 403, 404, 503],
  },
  { method: 'get', path: '/v1/audit', tag: 'admin', access: 'admin', summary: 'The audit log, newest first', query: auditQuery, responses: { 200: json('a page of events', r.auditPage) }, errors: [400, 401, 403, 503] },
];
