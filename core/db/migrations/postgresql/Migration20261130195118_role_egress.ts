import { Migration } from '@mikro-orm/migrations';

export class Migration20261130195118_role_egress extends Migration {

  override name = 'Migration20261130195118_role_egress';

  override up(): void | Promise<void> {
    this.addSql(`create table "role_egress" ("role" varchar(16) not null, "destinations" jsonb not null, "updated_by" uuid null, "updated_at" timestamptz not null, primary key ("role"));`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "role_egress" cascade;`);
  }

}
