/** The account roles. Each has a policy (HACKSTREAM_ROLE_POLICIES): apps, quotas, egress openings. */
export const ROLES = ['admin', 'user'] as const;
export type Role = (typeof ROLES)[number];

/** Who vouches for an account: its own password (`local`) or the operator's sign-in proxy. */
export const IDENTITY_SOURCES = ['local', 'proxy'] as const;
export type IdentitySource = (typeof IDENTITY_SOURCES)[number];
