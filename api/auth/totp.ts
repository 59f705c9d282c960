/**
 * Second factor: TOTP (RFC 6238, SHA-1, 6 digits, 30 s, as authenticator apps expect) with
 * otplib. Enrolment stores a pending secret (encrypted); the first valid code confirms it and
 * returns recovery codes. A code is accepted once: the last accepted time step is kept.
 */
import { generateSecret, generateURI, verify } from 'otplib';
import QRCode from 'qrcode';
import { User } from '../../core/db/entities.js';
import type { Database } from '../../core/db/orm.js';
import type { OneTimeCodes } from './one-time-codes.js';
import type { SecretBox } from './secret-box.js';

export const RECOVERY_CODE_COUNT = 10;
const ISSUER = 'HackStream';
/** One step either side: tolerates 30 s of clock drift between phone and server. */
const TOLERANCE_SECONDS = 30;

export interface TotpEnrolment {
  otpauthUri: string;
  /** PNG data URL of the otpauth URI, for authenticator apps to scan. */
  qrCode: string;
}

export class Totp {
  constructor(
    private readonly db: Database,
    private readonly box: SecretBox,
    private readonly codes: OneTimeCodes,
  ) {}

  async isEnabled(userId: string): Promise<boolean> {
    const user = await this.db.em.fork().findOneOrFail(User, { id: userId });
    return user.totpEnabledAt !== null && user.totpEnabledAt !== undefined;
  }

  /** Starts (or restarts) enrolment; TOTP is not required at login until confirmed. */
  async begin(userId: string, username: string): Promise<TotpEnrolment | 'already-enabled'> {
    const em = this.db.em.fork();
    const user = await em.findOneOrFail(User, { id: userId });
    if (user.totpEnabledAt) return 'already-enabled';
    const secret = generateSecret();
    user.totpSecret = this.box.seal(secret);
    user.totpLastStep = null;
    await em.flush();
    const otpauthUri = generateURI({ issuer: ISSUER, label: username, secret });
    return { otpauthUri, qrCode: await QRCode.toDataURL(otpauthUri) };
  }

  /** Confirms enrolment with a first code; returns the recovery codes (shown once). */
  async confirm(userId: string, code: string): Promise<string[] | null> {
    const em = this.db.em.fork();
    const user = await em.findOneOrFail(User, { id: userId });
    if (user.totpEnabledAt || !user.totpSecret) return null;
    const step = await this.check(user, code);
    if (step === null) return null;
    user.totpEnabledAt = new Date();
    user.totpLastStep = step;
    await em.flush();
    return (await this.codes.issue(userId, 'recovery', { count: RECOVERY_CODE_COUNT })).codes;
  }

  /** Checks a login code and records its time step, so the same code cannot be used again. */
  async verifyLogin(userId: string, code: string): Promise<boolean> {
    const em = this.db.em.fork();
    const user = await em.findOneOrFail(User, { id: userId });
    if (!user.totpEnabledAt || !user.totpSecret) return false;
    const step = await this.check(user, code);
    if (step === null) return false;
    // Conditional: of two logins racing with one code, one wins.
    const won = await em.nativeUpdate(
      User,
      { id: userId, $or: [{ totpLastStep: null }, { totpLastStep: { $lt: step } }] },
      { totpLastStep: step },
    );
    return won === 1;
  }

  async reset(userId: string): Promise<void> {
    const em = this.db.em.fork();
    await em.nativeUpdate(User, { id: userId }, { totpSecret: null, totpEnabledAt: null, totpLastStep: null });
    await this.codes.revoke(userId, ['recovery']);
  }

  private async check(user: User, code: string): Promise<number | null> {
    if (!/^\d{6}$/.test(code) || !user.totpSecret) return null;
    const result = await verify({
      secret: this.box.open(user.totpSecret),
      token: code,
      epochTolerance: TOLERANCE_SECONDS,
      ...(user.totpLastStep !== null && user.totpLastStep !== undefined ? { afterTimeStep: user.totpLastStep } : {}),
    });
    return result.valid && 'timeStep' in result ? result.timeStep : null;
  }
}
