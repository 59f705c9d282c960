/**
 * What the worker reads of an account: whether a change that ends its live access has reached
 * the database (its token version) and whether it is disabled. The API owns the users table
 * (api/users/); this is the one read the worker needs of it.
 */
import { User } from './db/entities.js';
import type { Database } from './db/orm.js';

export interface AccountState {
  tokenVersion: number;
  disabled: boolean;
}

export class AccountStates {
  constructor(private readonly db: Database) {}

  async read(userId: string): Promise<AccountState | null> {
    const user = await this.db.em.fork().findOne(User, { id: userId }, { fields: ['tokenVersion', 'disabled'] });
    return user ? { tokenVersion: user.tokenVersion, disabled: user.disabled } : null;
  }
}
