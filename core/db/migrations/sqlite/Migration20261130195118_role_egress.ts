import { Migration } from '@mikro-orm/migrations';

export class Migration20261130195118_role_egress extends Migration {

  override name = 'Migration20261130195118_role_egress';

  override up(): void | Promise<void> {
    this.addSql(`create table \`role_egress\` (\`role\` text not null primary key, \`destinations\` json not null, \`updated_by\` text null, \`updated_at\` datetime not null);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`role_egress\`;`);
  }

}
