/** The ready lists of the warm pools in Redis (core/pool-keys.ts): workers add and take back. */
import type { Redis } from 'ioredis';
import { poolReadyKey } from '../core/pool-keys.js';
import type { WarmSlot } from '../workflows/messages.js';

export interface ListedSlot {
  slot: WarmSlot;
  /** The exact list entry, to take this one back. */
  raw: string;
}

/** A pool on this worker's host: its name (app-quality) and the image its containers run. */
export interface PoolRef {
  name: string;
  image: string;
}

export interface PoolStore {
  add(pool: PoolRef, slot: WarmSlot): Promise<void>;
  list(pool: PoolRef): Promise<ListedSlot[]>;
  /** Removes a slot before anyone claims it; false when a session claimed it first. */
  takeBack(pool: PoolRef, entry: ListedSlot): Promise<boolean>;
}

export class RedisPoolStore implements PoolStore {
  constructor(
    private readonly redis: Redis,
    private readonly taskQueue: string,
  ) {}

  private key(pool: PoolRef): string {
    return poolReadyKey(this.taskQueue, pool.name, pool.image);
  }

  async add(pool: PoolRef, slot: WarmSlot): Promise<void> {
    await this.redis.rpush(this.key(pool), JSON.stringify(slot));
  }

  async list(pool: PoolRef): Promise<ListedSlot[]> {
    const raws = await this.redis.lrange(this.key(pool), 0, -1);
    return raws.map((raw) => ({ raw, slot: JSON.parse(raw) as WarmSlot }));
  }

  async takeBack(pool: PoolRef, entry: ListedSlot): Promise<boolean> {
    return (await this.redis.lrem(this.key(pool), 1, entry.raw)) === 1;
  }
}
