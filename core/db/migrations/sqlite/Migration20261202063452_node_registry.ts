import { Migration } from '@mikro-orm/migrations';

export class Migration20261202063452_node_registry extends Migration {

  override name = 'Migration20261202063452_node_registry';

  override up(): void | Promise<void> {
    this.addSql(`create table \`nodes\` (\`id\` text not null primary key, \`labels\` json not null, \`state\` text not null, \`memory_mb\` integer not null, \`cpu_millis\` integer not null, \`max_sessions\` integer not null, \`reserved_memory_mb\` integer not null default 0, \`reserved_cpu_millis\` integer not null default 0, \`reserved_sessions\` integer not null default 0, \`last_heartbeat_at\` datetime null, \`created_at\` datetime not null, \`updated_at\` datetime not null);`);

    this.addSql(`create table \`node_reservations\` (\`session_id\` text not null primary key, \`node_id\` text not null, \`memory_mb\` integer not null, \`cpu_millis\` integer not null, \`created_at\` datetime not null);`);
    this.addSql(`create index \`node_reservations_node_idx\` on \`node_reservations\` (\`node_id\`);`);

    this.addSql(`alter table \`sessions\` add column \`node_id\` text null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`nodes\`;`);
    this.addSql(`drop table if exists \`node_reservations\`;`);

    this.addSql(`alter table \`sessions\` drop column \`node_id\`;`);
  }

}
