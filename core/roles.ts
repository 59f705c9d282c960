/** The account roles. Each has a policy (HACKSTREAM_ROLE_POLICIES): apps, quotas, egress openings. */
export const ROLES = ['admin', 'user'] as const;
export type Role = (typeof ROLES)[number];
