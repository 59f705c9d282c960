/**
 * OpenTelemetry tracing for the API and the worker, configured by the standard `OTEL_*`
 * variables and off unless one of them asks for it: `OTEL_TRACES_EXPORTER=otlp`, or an OTLP
 * endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`). The exporter
 * (OTLP over HTTP) reads its endpoint, headers and timeout from them itself; `OTEL_SERVICE_NAME`
 * and `OTEL_RESOURCE_ATTRIBUTES` name the process. `OTEL_SDK_DISABLED=true` or
 * `OTEL_TRACES_EXPORTER=none` keep it off.
 *
 * On the 1.x line of OpenTelemetry on purpose: Temporal's interceptors 1.24 are built on it.
 */
import { trace, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { detectResourcesSync, envDetectorSync, Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, NoopSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { HACKSTREAM_VERSION } from './package-info.js';

export interface Tracing {
  enabled: boolean;
  tracer: Tracer;
  /** Where the worker's workflow spans go (through the interceptors' sink). */
  spanProcessor: SpanProcessor;
  resource: Resource;
  /** Sends what is still buffered; at process exit. */
  shutdown(): Promise<void>;
}

export function tracingEnabled(env: NodeJS.ProcessEnv): boolean {
  if ((env['OTEL_SDK_DISABLED'] ?? '').toLowerCase() === 'true') return false;
  const exporters = (env['OTEL_TRACES_EXPORTER'] ?? '').split(',').map((e) => e.trim().toLowerCase());
  if (exporters.includes('none')) return false;
  return exporters.includes('otlp') || Boolean(env['OTEL_EXPORTER_OTLP_ENDPOINT'] || env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']);
}

/** Starts tracing for this process (at most once) and registers it as the global provider. */
export function startTracing(service: 'api' | 'worker', env: NodeJS.ProcessEnv = process.env): Tracing {
  const resource = new Resource({ [ATTR_SERVICE_NAME]: `hackstream-${service}`, [ATTR_SERVICE_VERSION]: HACKSTREAM_VERSION }).merge(
    detectResourcesSync({ detectors: [envDetectorSync] }),
  );
  if (!tracingEnabled(env)) {
    return { enabled: false, tracer: trace.getTracer('hackstream'), spanProcessor: new NoopSpanProcessor(), resource, shutdown: async () => {} };
  }
  const spanProcessor = new BatchSpanProcessor(new OTLPTraceExporter());
  const provider = new NodeTracerProvider({ resource, spanProcessors: [spanProcessor] });
  // The global provider, the AsyncLocalStorage context manager and W3C trace-context propagation.
  provider.register();
  return { enabled: true, tracer: trace.getTracer('hackstream', HACKSTREAM_VERSION), spanProcessor, resource, shutdown: () => provider.shutdown() };
}
