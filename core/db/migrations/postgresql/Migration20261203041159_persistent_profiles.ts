import { Migration } from '@mikro-orm/migrations';

export class Migration20261203041159_persistent_profiles extends Migration {

  override name = 'Migration20261203041159_persistent_profiles';

  override up(): void | Promise<void> {
    this.addSql(`create table "profiles" ("user_id" uuid not null, "app" varchar(32) not null, "node_id" varchar(63) not null, "used_mb" int not null default 0, "cap_mb" int not null default 0, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("user_id", "app"));`);

    this.addSql(`alter table "sessions" add "profile" varchar(16) not null default 'ephemeral';`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "profiles" cascade;`);

    this.addSql(`alter table "sessions" drop column "profile";`);
  }

}
