import { Migration } from '@mikro-orm/migrations';

export class Migration20261203140114_proxy_sign_in extends Migration {

  override name = 'Migration20261203140114_proxy_sign_in';

  override up(): void | Promise<void> {
    this.addSql(`alter table "users" add "identity" text not null default 'local';`);
    this.addSql(`alter table "users" add constraint "users_identity_check" check ("identity" in ('local', 'proxy'));`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "users" drop constraint "users_identity_check";`);
    this.addSql(`alter table "users" drop column "identity";`);
  }

}
