/**
 * Structured logging: a message plus a metadata object. JSON lines in production (and whenever
 * output is not a terminal), a readable single line per event in a development terminal.
 */
import { context, isSpanContextValid, trace } from '@opentelemetry/api';
import winston from 'winston';

export type Logger = winston.Logger;

export interface LoggerOptions {
  level: 'error' | 'warn' | 'info' | 'debug';
  /** Force JSON output; by default JSON unless stdout is a TTY outside production. */
  json?: boolean;
  /** Name of the process or component, added to every line. */
  service: string;
}

/** Keys whose values must never reach a log line, whatever object carries them. */
const SECRET_KEYS = /pass(word)?|secret|token|authorization|cookie|hash/i;

const redactSecrets = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (SECRET_KEYS.test(key)) info[key] = '[redacted]';
  }
  return info;
});

/** The trace and span a line was logged in (OpenTelemetry), when tracing is on. */
const traceFields = winston.format((info) => {
  const span = trace.getSpanContext(context.active());
  if (span && isSpanContextValid(span)) {
    info['trace_id'] = span.traceId;
    info['span_id'] = span.spanId;
  }
  return info;
});

export function createLogger(opts: LoggerOptions): Logger {
  const json = opts.json ?? !process.stdout.isTTY;
  return winston.createLogger({
    level: opts.level,
    defaultMeta: { service: opts.service },
    format: winston.format.combine(
      redactSecrets(),
      traceFields(),
      winston.format.errors({ stack: true }),
      winston.format.timestamp(),
      json
        ? winston.format.json()
        : winston.format.printf(({ timestamp, level, message, service, ...meta }) => {
            const extra = Object.keys(meta).length ? ` ${JSON.stringify(meta)}` : '';
            return `${String(timestamp)} ${level} [${String(service)}] ${String(message)}${extra}`;
          }),
    ),
    transports: [new winston.transports.Console()],
  });
}
