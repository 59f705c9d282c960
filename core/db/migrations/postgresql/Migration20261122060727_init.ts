import { Migration } from '@mikro-orm/migrations';

export class Migration20261122060727_init extends Migration {

  override name = 'Migration20261122060727_init';

  override up(): void | Promise<void> {
    this.addSql(`create table "sessions" ("id" uuid not null, "user_id" uuid not null, "app" varchar(32) not null, "state" varchar(16) not null, "reason" varchar(32) null, "message" text null, "url" text null, "quality" varchar(16) not null, "container_id" varchar(64) null, "container_name" varchar(128) null, "xpra_host_port" int null, "requested_at" timestamptz not null, "ready_at" timestamptz null, "attached_at" timestamptz null, "ended_at" timestamptz null, "updated_at" timestamptz not null, primary key ("id"));`);
    this.addSql(`create index "sessions_user_requested_idx" on "sessions" ("user_id", "requested_at");`);
    this.addSql(`create index "sessions_state_idx" on "sessions" ("state");`);

    this.addSql(`create table "users" ("id" uuid not null, "username" varchar(64) not null, "password_hash" varchar(255) not null, "role" text not null default 'user', "disabled" boolean not null default false, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`);
    this.addSql(`alter table "users" add constraint "users_username_unique" unique ("username");`);

    this.addSql(`alter table "users" add constraint "users_role_check" check ("role" in ('admin', 'user'));`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "sessions" cascade;`);
    this.addSql(`drop table if exists "users" cascade;`);
  }

}
