/** The session projection in the database (MikroORM), written on every workflow state change. */
import type { Database } from '../core/db/orm.js';
import { Session } from '../core/db/entities.js';
import { FINAL_STATES, type SessionSnapshot } from '../workflows/messages.js';
import type { SessionStore } from './index.js';

const toDate = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));

export class DatabaseSessionStore implements SessionStore {
  constructor(private readonly db: Database) {}

  async record(s: SessionSnapshot): Promise<void> {
    const em = this.db.em.fork();
    // Upsert by id: the first write creates the row, later ones (and retries) overwrite it.
    await em.upsert(Session, {
      id: s.sessionId,
      userId: s.userId,
      app: s.app,
      state: s.state,
      reason: s.reason,
      message: s.message,
      url: s.url,
      quality: s.quality,
      containerId: s.container?.id ?? null,
      containerName: s.container?.name ?? null,
      containerIp: s.container?.ip ?? null,
      requestedAt: new Date(s.requestedAt),
      readyAt: toDate(s.readyAt),
      attachedAt: toDate(s.attachedAt),
      endedAt: toDate(s.endedAt),
      updatedAt: new Date(),
    });
  }

  async live(sessionIds: string[]): Promise<Set<string>> {
    if (sessionIds.length === 0) return new Set();
    const rows = await this.db.em.fork().find(Session, { id: { $in: sessionIds }, state: { $nin: [...FINAL_STATES] } }, { fields: ['id'] });
    return new Set(rows.map((r) => r.id));
  }
}
