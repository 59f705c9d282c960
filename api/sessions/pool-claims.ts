/**
 * Claiming a pre-warmed container for a new session: an atomic LPOP from the pool's ready list,
 * so two concurrent creates never get the same container, followed by a trigger of the
 * pool-warming schedule so the pool refills without waiting for its next tick.
 */
import { ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { ApiConfig } from '../../core/config.js';
import type { Logger } from '../../core/logger.js';
import type { RedisPoolStore } from '../../core/pool-store.js';
import { poolName, poolScheduleId, type Quality, type WarmSlot } from '../../workflows/messages.js';
import type { ApiMetrics } from '../metrics.js';

export class PoolClaims {
  constructor(
    private readonly pools: RedisPoolStore,
    private readonly temporal: Client,
    private readonly config: ApiConfig,
    private readonly metrics: ApiMetrics,
    private readonly logger: Logger,
  ) {}

  /** A warm container for this app and preset, or null (no such pool, or it is empty). */
  async claim(app: string, quality: Quality): Promise<WarmSlot | null> {
    if (!this.config.pool.pools.some((p) => p.app === app && p.quality === quality)) return null;
    const name = poolName(app, quality);
    const slot = await this.pools.claim({ name, image: this.config.session.image });
    this.refill();
    (slot ? this.metrics.poolClaims : this.metrics.poolMisses).inc({ pool: name });
    return slot;
  }

  /** Asks for a top-up now (one buffered run if one is under way); never delays the caller. */
  private refill(): void {
    this.temporal.schedule
      .getHandle(poolScheduleId(this.config.temporal.taskQueue))
      .trigger(ScheduleOverlapPolicy.BUFFER_ONE)
      .catch((err: unknown) => this.logger.warn('could not trigger the pool refill', { error: String(err) }));
  }
}
