/**
 * Claiming a pre-warmed container for a new session: an atomic LPOP from the pool's ready list of
 * the first node, in placement order, that could take the session, so two concurrent creates
 * never get the same container; then a trigger of the pool-warming schedule so the pool refills
 * without waiting for its next tick.
 */
import { ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { ApiConfig } from '../../core/config.js';
import type { Logger } from '../../core/logger.js';
import type { NodeRegistry } from '../../core/node-registry.js';
import type { RedisPoolStore } from '../../core/pool-store.js';
import { poolName, poolScheduleId, type Quality, type WarmSlot } from '../../workflows/messages.js';
import type { ApiMetrics } from '../metrics.js';

export class PoolClaims {
  constructor(
    private readonly pools: RedisPoolStore,
    private readonly nodes: Pick<NodeRegistry, 'placementOrder'>,
    private readonly temporal: Client,
    private readonly config: ApiConfig,
    private readonly metrics: ApiMetrics,
    private readonly logger: Logger,
  ) {}

  /**
   * A warm container for this app and preset on a node the session could be placed on (its
   * labels, room for its demand), or null (no such pool, or all of those nodes' are empty).
   */
  async claim(app: string, quality: Quality, demand: { memoryMb: number; cpus: number; labels: Record<string, string> }): Promise<WarmSlot | null> {
    const pool = this.config.pool.pools.find((p) => p.app === app && p.quality === quality);
    if (!pool) return null;
    const name = poolName(app, quality);
    const { strategy, aliveWithinSeconds } = this.config.placement;
    const nodes = await this.nodes.placementOrder({ ...demand, strategy, aliveSince: new Date(Date.now() - aliveWithinSeconds * 1000) });
    const slot = await this.pools.claim({ name, image: pool.image }, nodes);
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
