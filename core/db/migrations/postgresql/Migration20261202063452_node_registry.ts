import { Migration } from '@mikro-orm/migrations';

export class Migration20261202063452_node_registry extends Migration {

  override name = 'Migration20261202063452_node_registry';

  override up(): void | Promise<void> {
    this.addSql(`create table "nodes" ("id" varchar(63) not null, "labels" jsonb not null, "state" varchar(16) not null, "memory_mb" int not null, "cpu_millis" int not null, "max_sessions" int not null, "reserved_memory_mb" int not null default 0, "reserved_cpu_millis" int not null default 0, "reserved_sessions" int not null default 0, "last_heartbeat_at" timestamptz null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`);

    this.addSql(`create table "node_reservations" ("session_id" uuid not null, "node_id" varchar(63) not null, "memory_mb" int not null, "cpu_millis" int not null, "created_at" timestamptz not null, primary key ("session_id"));`);
    this.addSql(`create index "node_reservations_node_idx" on "node_reservations" ("node_id");`);

    this.addSql(`alter table "sessions" add "node_id" varchar(63) null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "nodes" cascade;`);
    this.addSql(`drop table if exists "node_reservations" cascade;`);

    this.addSql(`alter table "sessions" drop column "node_id";`);
  }

}
