/**
 * The ready lists of the warm pools in Redis, the one client of that key space: one list of ready
 * slots (JSON) per pool and session node. The pool-warming workflow's control-side activities add
 * warm containers and take back the ones they drop; the API claims one per session (an atomic
 * LPOP: a slot is never handed out twice) and reports the pools' sizes.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { App, Quality } from './catalog.js';

const POOL_PREFIX = 'hackstream:pool:';
/** Every pool's list, as a Redis key pattern (the worker's Redis user reaches these: core/redis-acl.ts). */
export const POOL_KEYS = `${POOL_PREFIX}*`;

const imageHash = (image: string) => createHash('sha256').update(image).digest('hex').slice(0, 16);

/**
 * A pool lives on one session node of one stack (task queue), and only serves sessions of the
 * same image: all three are part of the key.
 */
export const poolReadyKey = (taskQueue: string, node: string, pool: string, image: string): string =>
  `${POOL_PREFIX}${taskQueue}:node:${node}:${pool}:${imageHash(image)}:ready`;

/**
 * A pre-warmed container: Firefox already up on about:blank, its certificate and routes already
 * made for the session id it was warmed for (which becomes the id of the session that claims
 * it). Single-use: popped atomically from the pool, never returned to it.
 */
export interface WarmSlot {
  sessionId: string;
  app: App;
  quality: Quality;
  containerId: string;
  containerName: string;
  ip: string;
  /** Epoch ms when it became ready. */
  readyAt: number;
  /** The session node whose engine runs it (absent in slots warmed before nodes existed). */
  node?: string;
  /**
   * The claiming session's token public key, added by the API when it hands the slot to a
   * session (core/session-token-key.ts): the node writes it without the tokens' secret.
   */
  tokenPublicKeyHex?: string;
}

export interface ListedSlot {
  slot: WarmSlot;
  /** The exact list entry, to take this one back. */
  raw: string;
}

/** A pool: its name (app-quality) and the image its containers run. */
export interface PoolRef {
  name: string;
  image: string;
}

/** A pool on one session node. */
export interface NodePoolRef extends PoolRef {
  node: string;
}

export interface PoolStore {
  add(pool: NodePoolRef, slot: WarmSlot): Promise<void>;
  list(pool: NodePoolRef): Promise<ListedSlot[]>;
  /** Removes a slot before anyone claims it; false when a session claimed it first. */
  takeBack(pool: NodePoolRef, entry: ListedSlot): Promise<boolean>;
}

export class RedisPoolStore implements PoolStore {
  constructor(
    private readonly redis: Redis,
    private readonly taskQueue: string,
  ) {}

  private key(pool: NodePoolRef): string {
    return poolReadyKey(this.taskQueue, pool.node, pool.name, pool.image);
  }

  async add(pool: NodePoolRef, slot: WarmSlot): Promise<void> {
    await this.redis.rpush(this.key(pool), JSON.stringify(slot));
  }

  async list(pool: NodePoolRef): Promise<ListedSlot[]> {
    const raws = await this.redis.lrange(this.key(pool), 0, -1);
    return raws.map((raw) => ({ raw, slot: JSON.parse(raw) as WarmSlot }));
  }

  async takeBack(pool: NodePoolRef, entry: ListedSlot): Promise<boolean> {
    return (await this.redis.lrem(this.key(pool), 1, entry.raw)) === 1;
  }

  /** The oldest ready slot of the first of these nodes' pools that has one, now the caller's alone; null when all are empty. */
  async claim(pool: PoolRef, nodes: readonly string[]): Promise<WarmSlot | null> {
    for (const node of nodes) {
      const raw = await this.redis.lpop(this.key({ ...pool, node }));
      if (raw) return JSON.parse(raw) as WarmSlot;
    }
    return null;
  }

  /** Ready slots of the pool on every node. */
  async size(pool: PoolRef): Promise<number> {
    let total = 0;
    const match = poolReadyKey(this.taskQueue, '*', pool.name, pool.image);
    for await (const keys of this.redis.scanStream({ match, count: 200 }) as AsyncIterable<string[]>) {
      for (const key of keys) total += await this.redis.llen(key);
    }
    return total;
  }

  /**
   * The session ids of every slot ready in any pool this Redis holds (every task queue's,
   * configured now or not): none of them is an orphan.
   */
  async readySessionIds(): Promise<Set<string>> {
    const ids = new Set<string>();
    const match = `${POOL_PREFIX}*:ready`;
    for await (const keys of this.redis.scanStream({ match, count: 200 }) as AsyncIterable<string[]>) {
      for (const key of keys) for (const raw of await this.redis.lrange(key, 0, -1)) ids.add((JSON.parse(raw) as WarmSlot).sessionId);
    }
    return ids;
  }
}
