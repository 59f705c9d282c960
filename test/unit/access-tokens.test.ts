import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { AccessTokens } from '../../api/auth/access-tokens.js';

const SECRET = 's'.repeat(48);

describe('access tokens', () => {
  it('verifies what it issued', async () => {
    const tokens = new AccessTokens(SECRET, 60);
    const { token, expiresIn } = await tokens.issue({ userId: 'u1', role: 'user', tokenVersion: 3, familyId: 'f1' });
    expect(expiresIn).toBe(60);
    expect(await tokens.verify(token)).toEqual({ userId: 'u1', role: 'user', tokenVersion: 3, familyId: 'f1' });
  });

  it('refuses tokens signed with another key, tampered or expired', async () => {
    const mine = new AccessTokens(SECRET, 60);
    const theirs = new AccessTokens('t'.repeat(48), 60);
    const { token } = await theirs.issue({ userId: 'u1', role: 'admin', tokenVersion: 0, familyId: 'f1' });
    expect(await mine.verify(token)).toBeNull();

    const good = (await mine.issue({ userId: 'u1', role: 'user', tokenVersion: 3, familyId: 'f1' })).token;
    const [h, p, s] = good.split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), role: 'admin' })).toString('base64url');
    expect(await mine.verify(`${h}.${forged}.${s}`)).toBeNull();

    const expired = await new SignJWT({ role: 'user' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('u1')
      .setIssuer('hackstream')
      .setAudience('hackstream-api')
      .setExpirationTime(Math.floor(Date.now() / 1000) - 10)
      .sign(new TextEncoder().encode(SECRET));
    expect(await mine.verify(expired)).toBeNull();
    expect(await mine.verify('not-a-jwt')).toBeNull();
  });

  it('refuses the "none" algorithm', async () => {
    const mine = new AccessTokens(SECRET, 60);
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const payload = Buffer.from(JSON.stringify({ sub: 'u1', role: 'admin', iss: 'hackstream', aud: 'hackstream-api', exp: 9e9 })).toString('base64url');
    expect(await mine.verify(`${header}.${payload}.`)).toBeNull();
  });
});
