import { Migration } from '@mikro-orm/migrations';

// Edited by hand: existing users get token_version 0 (the generator copied null into a NOT NULL
// column, which fails as soon as a user exists).
export class Migration20261122081009_accounts_tokens_audit extends Migration {

  override name = 'Migration20261122081009_accounts_tokens_audit';

  override up(): void | Promise<void> {
    this.addSql(`create table \`audit_events\` (\`id\` text not null primary key, \`occurred_at\` datetime not null, \`action\` text not null, \`actor_id\` text null, \`actor_name\` text null, \`user_id\` text null, \`target_type\` text null, \`target_id\` text null, \`source_ip\` text null, \`details\` json null);`);
    this.addSql(`create index \`audit_events_time_idx\` on \`audit_events\` (\`occurred_at\`, \`id\`);`);
    this.addSql(`create index \`audit_events_actor_idx\` on \`audit_events\` (\`actor_id\`);`);
    this.addSql(`create index \`audit_events_user_idx\` on \`audit_events\` (\`user_id\`);`);
    this.addSql(`create index \`audit_events_target_idx\` on \`audit_events\` (\`target_id\`);`);
    this.addSql(`create index \`audit_events_action_idx\` on \`audit_events\` (\`action\`);`);

    this.addSql(`create table \`one_time_codes\` (\`id\` text not null primary key, \`user_id\` text not null, \`kind\` text check (\`kind\` in ('invite', 'password_reset', 'recovery')) not null, \`code_hash\` text not null, \`created_at\` datetime not null, \`expires_at\` datetime null, \`used_at\` datetime null);`);
    this.addSql(`create unique index \`one_time_codes_code_hash_unique\` on \`one_time_codes\` (\`code_hash\`);`);
    this.addSql(`create index \`one_time_codes_user_kind_idx\` on \`one_time_codes\` (\`user_id\`, \`kind\`);`);

    this.addSql(`create table \`refresh_tokens\` (\`id\` text not null primary key, \`user_id\` text not null, \`family_id\` text not null, \`token_hash\` text not null, \`created_at\` datetime not null, \`expires_at\` datetime not null, \`used_at\` datetime null, \`revoked_at\` datetime null);`);
    this.addSql(`create unique index \`refresh_tokens_token_hash_unique\` on \`refresh_tokens\` (\`token_hash\`);`);
    this.addSql(`create index \`refresh_tokens_family_idx\` on \`refresh_tokens\` (\`family_id\`);`);
    this.addSql(`create index \`refresh_tokens_user_idx\` on \`refresh_tokens\` (\`user_id\`);`);

    this.addSql(`pragma foreign_keys = off;`);
    this.addSql(`create table \`users__temp_alter\` (\`id\` text not null primary key, \`username\` text not null, \`password_hash\` text null, \`role\` text check (\`role\` in ('admin', 'user')) not null default 'user', \`disabled\` integer not null default false, \`token_version\` integer not null default 0, \`totp_secret\` text null, \`totp_enabled_at\` datetime null, \`totp_last_step\` integer null, \`quota\` json null, \`created_at\` datetime not null, \`updated_at\` datetime not null);`);
    this.addSql(`insert into \`users__temp_alter\` select \`id\`, \`username\`, \`password_hash\`, \`role\`, \`disabled\`, 0 as \`token_version\`, null as \`totp_secret\`, null as \`totp_enabled_at\`, null as \`totp_last_step\`, null as \`quota\`, \`created_at\`, \`updated_at\` from \`users\`;`);
    this.addSql(`drop table \`users\`;`);
    this.addSql(`alter table \`users__temp_alter\` rename to \`users\`;`);
    this.addSql(`create unique index \`users_username_unique\` on \`users\` (\`username\`);`);
    this.addSql(`pragma foreign_keys = on;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`audit_events\`;`);
    this.addSql(`drop table if exists \`one_time_codes\`;`);
    this.addSql(`drop table if exists \`refresh_tokens\`;`);

    this.addSql(`pragma foreign_keys = off;`);
    this.addSql(`create table \`users__temp_alter\` (\`created_at\` datetime not null, \`disabled\` integer not null default false, \`id\` text not null primary key, \`password_hash\` text not null, \`role\` text check (\`role\` in ('admin', 'user')) not null default 'user', \`updated_at\` datetime not null, \`username\` text not null);`);
    this.addSql(`insert into \`users__temp_alter\` select \`created_at\`, \`disabled\`, \`id\`, \`password_hash\`, \`role\`, \`updated_at\`, \`username\` from \`users\`;`);
    this.addSql(`drop table \`users\`;`);
    this.addSql(`alter table \`users__temp_alter\` rename to \`users\`;`);
    this.addSql(`create unique index \`users_username_unique\` on \`users\` (\`username\`);`);
    this.addSql(`pragma foreign_keys = on;`);
  }

}
