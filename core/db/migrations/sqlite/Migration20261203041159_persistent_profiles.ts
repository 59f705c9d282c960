import { Migration } from '@mikro-orm/migrations';

export class Migration20261203041159_persistent_profiles extends Migration {

  override name = 'Migration20261203041159_persistent_profiles';

  override up(): void | Promise<void> {
    this.addSql(`create table \`profiles\` (\`user_id\` text not null, \`app\` text not null, \`node_id\` text not null, \`used_mb\` integer not null default 0, \`cap_mb\` integer not null default 0, \`created_at\` datetime not null, \`updated_at\` datetime not null, primary key (\`user_id\`, \`app\`));`);

    this.addSql(`alter table \`sessions\` add column \`profile\` text not null default 'ephemeral';`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`profiles\`;`);

    this.addSql(`alter table \`sessions\` drop column \`profile\`;`);
  }

}
