import { Migration } from '@mikro-orm/migrations';

export class Migration20261122081009_accounts_tokens_audit extends Migration {

  override name = 'Migration20261122081009_accounts_tokens_audit';

  override up(): void | Promise<void> {
    this.addSql(`create table "audit_events" ("id" uuid not null, "occurred_at" timestamptz not null, "action" varchar(64) not null, "actor_id" uuid null, "actor_name" varchar(64) null, "user_id" uuid null, "target_type" varchar(32) null, "target_id" varchar(64) null, "source_ip" varchar(45) null, "details" jsonb null, primary key ("id"));`);
    this.addSql(`create index "audit_events_time_idx" on "audit_events" ("occurred_at", "id");`);
    this.addSql(`create index "audit_events_actor_idx" on "audit_events" ("actor_id");`);
    this.addSql(`create index "audit_events_user_idx" on "audit_events" ("user_id");`);
    this.addSql(`create index "audit_events_target_idx" on "audit_events" ("target_id");`);
    this.addSql(`create index "audit_events_action_idx" on "audit_events" ("action");`);

    this.addSql(`create table "one_time_codes" ("id" uuid not null, "user_id" uuid not null, "kind" text not null, "code_hash" varchar(64) not null, "created_at" timestamptz not null, "expires_at" timestamptz null, "used_at" timestamptz null, primary key ("id"));`);
    this.addSql(`alter table "one_time_codes" add constraint "one_time_codes_code_hash_unique" unique ("code_hash");`);
    this.addSql(`create index "one_time_codes_user_kind_idx" on "one_time_codes" ("user_id", "kind");`);

    this.addSql(`create table "refresh_tokens" ("id" uuid not null, "user_id" uuid not null, "family_id" uuid not null, "token_hash" varchar(64) not null, "created_at" timestamptz not null, "expires_at" timestamptz not null, "used_at" timestamptz null, "revoked_at" timestamptz null, primary key ("id"));`);
    this.addSql(`alter table "refresh_tokens" add constraint "refresh_tokens_token_hash_unique" unique ("token_hash");`);
    this.addSql(`create index "refresh_tokens_family_idx" on "refresh_tokens" ("family_id");`);
    this.addSql(`create index "refresh_tokens_user_idx" on "refresh_tokens" ("user_id");`);

    this.addSql(`alter table "users" add "token_version" int not null default 0, add "totp_secret" text null, add "totp_enabled_at" timestamptz null, add "totp_last_step" int null, add "quota" jsonb null;`);
    this.addSql(`alter table "users" alter column "password_hash" drop not null;`);

    this.addSql(`alter table "one_time_codes" add constraint "one_time_codes_kind_check" check ("kind" in ('invite', 'password_reset', 'recovery'));`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "audit_events" cascade;`);
    this.addSql(`drop table if exists "one_time_codes" cascade;`);
    this.addSql(`drop table if exists "refresh_tokens" cascade;`);

    this.addSql(`alter table "users" drop column "token_version", drop column "totp_secret", drop column "totp_enabled_at", drop column "totp_last_step", drop column "quota";`);
    this.addSql(`alter table "users" alter column "password_hash" set not null;`);
  }

}
