/**
 * Egress openings per role: what HACKSTREAM_ROLE_POLICIES' `egress` gives a role, plus the list an
 * admin keeps through the API (the `role_egress` table). A new session of the role gets both;
 * sessions already running keep the openings they started with. The worker's session firewall
 * (activities/session-firewall.ts) applies them.
 */
import type { ApiConfig } from '../../core/config.js';
import type { AuditLog } from '../../core/audit-log.js';
import { RoleEgress } from '../../core/db/entities.js';
import type { Role } from '../../core/roles.js';
import type { Database } from '../../core/db/orm.js';
import type { AuthenticatedUser } from '../request-context.js';
import type { RoleEgressView } from '../contract/responses.js';

export type { RoleEgressView };

export class RoleEgressOpenings {
  constructor(
    private readonly config: Pick<ApiConfig, 'policies'>,
    private readonly db: Database,
    private readonly audit: Pick<AuditLog, 'record'>,
  ) {}

  /** Every destination a new session of this role may reach beyond the public internet. */
  async effective(role: Role): Promise<string[]> {
    const row = await this.db.em.fork().findOne(RoleEgress, { role });
    return [...new Set([...this.config.policies[role].egress, ...(row?.destinations ?? [])])];
  }

  async view(role: Role): Promise<RoleEgressView> {
    const row = await this.db.em.fork().findOne(RoleEgress, { role });
    return { role, configured: [...this.config.policies[role].egress], added: row?.destinations ?? [], updated_at: row?.updatedAt.toISOString() ?? null };
  }

  /** Replaces the admin-kept list (an empty list removes it), and records who did it. */
  async replace(actor: AuthenticatedUser, role: Role, destinations: string[], ip: string): Promise<RoleEgressView> {
    const em = this.db.em.fork();
    const before = (await em.findOne(RoleEgress, { role }))?.destinations ?? [];
    await em.upsert(RoleEgress, { role, destinations, updatedBy: actor.id, updatedAt: new Date() });
    await this.audit.record({
      action: 'role.egress_updated',
      actorId: actor.id,
      targetType: 'role',
      targetId: role,
      sourceIp: ip,
      details: { before, after: destinations },
    });
    return this.view(role);
  }
}
