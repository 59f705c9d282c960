/**
 * Short-lived bearer tokens for the control plane: HS256 JWTs (jose) carrying the user id, the
 * user's token version (bumped to void every token at once) and the login family they belong to
 * (revoked at logout). Verification checks signature, algorithm, issuer, audience and expiry;
 * the caller then checks version and family against the account (api/auth/authentication.ts).
 */
import { randomUUID } from 'node:crypto';
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import type { Role } from '../../core/roles.js';

const ISSUER = 'hackstream';
const AUDIENCE = 'hackstream-api';

export interface AccessClaims {
  userId: string;
  role: Role;
  tokenVersion: number;
  familyId: string;
}

export interface IssuedToken {
  token: string;
  expiresIn: number;
}

export class AccessTokens {
  private readonly key: Uint8Array;

  constructor(
    secret: string,
    private readonly ttlSeconds: number,
  ) {
    this.key = new TextEncoder().encode(secret);
  }

  async issue(claims: AccessClaims): Promise<IssuedToken> {
    const token = await new SignJWT({ role: claims.role, ver: claims.tokenVersion, fam: claims.familyId })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(claims.userId)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setJti(randomUUID())
      .setExpirationTime(`${this.ttlSeconds}s`)
      .sign(this.key);
    return { token, expiresIn: this.ttlSeconds };
  }

  /** Returns the claims, or null for any invalid, expired or foreign token. */
  async verify(token: string): Promise<AccessClaims | null> {
    try {
      const { payload } = await jwtVerify(token, this.key, { issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'] });
      const { role, ver, fam } = payload;
      if (typeof payload.sub !== 'string' || (role !== 'admin' && role !== 'user')) return null;
      if (typeof ver !== 'number' || typeof fam !== 'string') return null;
      return { userId: payload.sub, role, tokenVersion: ver, familyId: fam };
    } catch (err) {
      if (err instanceof joseErrors.JOSEError) return null;
      throw err;
    }
  }
}
