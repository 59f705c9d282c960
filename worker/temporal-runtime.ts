/**
 * The Temporal SDK's runtime, installed once per process: its logs (worker, workflow and activity
 * loggers) go into winston, and its own metrics (task polls, schedule-to-start latencies, sticky
 * cache, slots) are served to Prometheus when an address is given.
 */
import type { LogLevel, LogMetadata, Logger as SdkLogger } from '@temporalio/common';
import { Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import type { Logger } from '../core/logger.js';

const LEVELS: Record<LogLevel, 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'debug',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

export class WinstonSdkLogger implements SdkLogger {
  constructor(private readonly logger: Logger) {}
  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    this.logger.log(LEVELS[level], message, { ...meta });
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}

/**
 * Must run once, before any worker or native connection is created. `metricsAddress`
 * (`host:port`): where the SDK serves its Prometheus metrics (`temporal_*`, durations in seconds).
 */
export function installTemporalRuntime(logger: Logger, opts: { metricsAddress?: string | undefined } = {}): void {
  Runtime.install({
    logger: new WinstonSdkLogger(logger),
    telemetryOptions: {
      logging: { forward: {}, filter: makeTelemetryFilterString({ core: 'WARN' }) },
      ...(opts.metricsAddress
        ? { metrics: { prometheus: { bindAddress: opts.metricsAddress, countersTotalSuffix: true, unitSuffix: true, useSecondsForDurations: true } } }
        : {}),
    },
  });
}
