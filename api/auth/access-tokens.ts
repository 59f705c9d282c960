/**
 * Short-lived bearer tokens for the control plane: HS256 JWTs (jose) carrying the user id and
 * role. Verification checks signature, algorithm, issuer, audience and expiry.
 */
import { randomUUID } from 'node:crypto';
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import type { Role } from '../../core/db/entities.js';

const ISSUER = 'hackstream';
const AUDIENCE = 'hackstream-api';

export interface AccessClaims {
  userId: string;
  role: Role;
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
    const token = await new SignJWT({ role: claims.role })
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
      const role = payload['role'];
      if (typeof payload.sub !== 'string' || (role !== 'admin' && role !== 'user')) return null;
      return { userId: payload.sub, role };
    } catch (err) {
      if (err instanceof joseErrors.JOSEError) return null;
      throw err;
    }
  }
}
