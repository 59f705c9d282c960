/**
 * The `profiles` table, the one client of it: where each user's persistent profile of an app
 * lives (its node: the volume is a file on that node's host, activities/profile-volumes.ts) and
 * what it used when its last session ended, which the storage quota counts.
 */
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { Database } from './db/orm.js';
import { Profile } from './db/entities.js';

export interface ProfileRecord {
  userId: string;
  app: string;
  nodeId: string;
  usedMb: number;
  capMb: number;
  /** Epoch ms of its last measurement. */
  updatedAt: number;
}

const record = (p: Profile): ProfileRecord => ({ userId: p.userId, app: p.app, nodeId: p.nodeId, usedMb: p.usedMb, capMb: p.capMb, updatedAt: p.updatedAt.getTime() });

export class ProfileRows {
  constructor(private readonly db: Database) {}

  /** The user's profiles, by app. */
  async of(userId: string): Promise<ProfileRecord[]> {
    return (await this.db.em.fork().find(Profile, { userId }, { orderBy: { app: 'asc' } })).map(record);
  }

  async find(userId: string, app: string): Promise<ProfileRecord | null> {
    const row = await this.db.em.fork().findOne(Profile, { userId, app });
    return row ? record(row) : null;
  }

  /**
   * The node the profile lives on: the one it was made on, or `nodeId` for a profile made now.
   * Two first placements at once agree (the insert of the second finds the first's row).
   */
  async settleNode(userId: string, app: string, nodeId: string): Promise<string> {
    const em = this.db.em.fork();
    const now = new Date();
    await em.insert(Profile, { userId, app, nodeId, usedMb: 0, capMb: 0, createdAt: now, updatedAt: now }).catch((err: unknown) => {
      if (!(err instanceof UniqueConstraintViolationException)) throw err;
    });
    return (await em.findOneOrFail(Profile, { userId, app })).nodeId;
  }

  /** What its volume used and could hold when measured (a session's end). */
  async recordUsage(userId: string, app: string, usage: { usedMb: number; capMb: number }): Promise<void> {
    await this.db.em.fork().nativeUpdate(Profile, { userId, app }, { usedMb: usage.usedMb, capMb: usage.capMb, updatedAt: new Date() });
  }

  /** Forgets the profile (its volume was deleted). False when there was none. */
  async remove(userId: string, app: string): Promise<boolean> {
    return (await this.db.em.fork().nativeDelete(Profile, { userId, app })) > 0;
  }
}
