import { Migration } from '@mikro-orm/migrations';

export class Migration20261122060727_init extends Migration {

  override name = 'Migration20261122060727_init';

  override up(): void | Promise<void> {
    this.addSql(`create table \`sessions\` (\`id\` text not null primary key, \`user_id\` text not null, \`app\` text not null, \`state\` text not null, \`reason\` text null, \`message\` text null, \`url\` text null, \`quality\` text not null, \`container_id\` text null, \`container_name\` text null, \`xpra_host_port\` integer null, \`requested_at\` datetime not null, \`ready_at\` datetime null, \`attached_at\` datetime null, \`ended_at\` datetime null, \`updated_at\` datetime not null);`);
    this.addSql(`create index \`sessions_user_requested_idx\` on \`sessions\` (\`user_id\`, \`requested_at\`);`);
    this.addSql(`create index \`sessions_state_idx\` on \`sessions\` (\`state\`);`);

    this.addSql(`create table \`users\` (\`id\` text not null primary key, \`username\` text not null, \`password_hash\` text not null, \`role\` text check (\`role\` in ('admin', 'user')) not null default 'user', \`disabled\` integer not null default false, \`created_at\` datetime not null, \`updated_at\` datetime not null);`);
    this.addSql(`create unique index \`users_username_unique\` on \`users\` (\`username\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`sessions\`;`);
    this.addSql(`drop table if exists \`users\`;`);
  }

}
