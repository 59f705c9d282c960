/**
 * The names the ingress (Traefik), the API and the workers agree on: where a session's browser
 * path lives, its native TLS name, the ForwardAuth check and the resume cookie. The worker writes
 * them into Traefik's configuration, the API answers on them and puts them in connect
 * descriptors; each is defined here only.
 */

/** Traefik's HTTPS entrypoint, defined in its static configuration. */
export const ENTRYPOINT = 'websecure';
/** The ForwardAuth middleware (in the ingress file) that every session's browser route uses. */
export const CONNECT_AUTH_MIDDLEWARE = 'hackstream-connect-auth@file';
/** Where the API answers Traefik's ForwardAuth calls (not routed by the ingress: loopback only). */
export const CONNECT_AUTH_PATH = '/internal/connect-auth';
/** The browser path's resume cookie, scoped to one session's path. */
export const RESUME_COOKIE = 'hs_resume';
export const SESSION_PATH_PREFIX = '/sessions/';

/** `/sessions/<id>`: the browser path of a session (its routes match below it). */
export const sessionPath = (sessionId: string): string => `${SESSION_PATH_PREFIX}${sessionId}`;

/** `<id>.sessions.<domain>`: the name a session's certificate carries and native clients send as SNI. */
export const sessionTlsName = (sessionId: string, domain: string): string => `${sessionId}.sessions.${domain}`;
