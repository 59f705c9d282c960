/**
 * A server span per request, named by its route (`POST /v1/sessions`) once Express has matched
 * it: OpenTelemetry's Express instrumentation does not cover Express 5. A `traceparent` header
 * from a caller continues its trace. The span's context is entered again after the body parser
 * and passport, whose stream and callback boundaries lose it.
 */
import { context, propagation, SpanKind, SpanStatusCode, trace, type Context, type Tracer } from '@opentelemetry/api';
import type { RequestHandler } from 'express';

declare module 'express-serve-static-core' {
  interface Request {
    /** The request's trace context (its server span), for what runs after a context was lost. */
    traceContext?: Context;
  }
}

export function requestTracing(tracer: Tracer): { start: RequestHandler; resume: RequestHandler } {
  const start: RequestHandler = (req, res, next) => {
    const parent = propagation.extract(context.active(), req.headers);
    const span = tracer.startSpan(req.method, { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method, 'url.path': req.path } }, parent);
    req.traceContext = trace.setSpan(parent, span);
    let ended = false;
    // `finish` once the answer is sent; `close` alone when the client went away first (a create
    // whose caller closed the page): the span ends either way, once.
    const end = () => {
      if (ended) return;
      ended = true;
      const route = req.route as { path?: unknown } | undefined;
      if (typeof route?.path === 'string') {
        const name = `${req.baseUrl}${route.path}`;
        span.updateName(`${req.method} ${name}`);
        span.setAttribute('http.route', name);
      }
      if (res.writableFinished) {
        span.setAttribute('http.response.status_code', res.statusCode);
        if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      } else {
        span.setStatus({ code: SpanStatusCode.ERROR, message: 'the client closed the connection before the answer' });
      }
      span.end();
    };
    res.on('finish', end);
    res.on('close', end);
    context.with(req.traceContext, next);
  };
  const resume: RequestHandler = (req, _res, next) => {
    if (req.traceContext) context.with(req.traceContext, next);
    else next();
  };
  return { start, resume };
}
