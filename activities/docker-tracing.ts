/**
 * A client span for every call to the Docker engine: dockerode sends each one through its
 * modem's `dial`, so wrapping that one method traces them all (create, start, exec, inspect,
 * remove, networks) under the activity that made them. Spans are named by the API's path template
 * (`docker POST /containers/{id}/start`), never by ids, so names stay few.
 */
import { SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import type Docker from 'dockerode';

interface DialOptions {
  method?: string;
  path?: string;
}
type Dial = (options: DialOptions, callback: (err: unknown, data: unknown) => void) => void;

/** Docker's collections whose next path segment is an object's id or name. */
const COLLECTIONS = /^\/(containers|exec|networks|volumes|plugins)\/(?!json$|create$|prune$)[^/]+/;
const IMAGE = /^\/images\/(?!json$|create$|prune$|search$|load$|get$)(.+?)(\/(json|history|push|tag|get))?$/;

/** `/containers/0a1b…/start?` → `/containers/{id}/start`: the path without ids or a query. */
export function dockerPathTemplate(path: string): string {
  const bare = path.split('?')[0]!.replace(/^\/v[\d.]+(?=\/)/, '');
  if (IMAGE.test(bare)) return bare.replace(IMAGE, (_m, _name: string, rest: string | undefined) => `/images/{name}${rest ?? ''}`);
  return bare.replace(COLLECTIONS, (m) => `/${m.split('/')[1]!}/{id}`);
}

export function traceDockerCalls(docker: Docker, tracer: Tracer): void {
  const modem = docker.modem as unknown as { dial: Dial };
  const dial = modem.dial.bind(modem);
  modem.dial = (options, callback) => {
    const template = dockerPathTemplate(options.path ?? '');
    tracer.startActiveSpan(`docker ${options.method ?? 'GET'} ${template}`, { kind: SpanKind.CLIENT, attributes: { 'http.request.method': options.method ?? 'GET', 'url.template': template, 'peer.service': 'docker' } }, (span) => {
      dial(options, (err, data) => {
        if (err) {
          span.recordException(err instanceof Error ? err : { message: JSON.stringify(err) });
          span.setStatus({ code: SpanStatusCode.ERROR });
        }
        span.end();
        callback(err, data);
      });
    });
  };
}
