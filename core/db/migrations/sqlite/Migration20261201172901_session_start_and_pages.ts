import { Migration } from '@mikro-orm/migrations';

export class Migration20261201172901_session_start_and_pages extends Migration {

  override name = 'Migration20261201172901_session_start_and_pages';

  override up(): void | Promise<void> {
    this.addSql(`alter table \`sessions\` add column \`start\` text null;`);
    this.addSql(`create index \`sessions_requested_idx\` on \`sessions\` (\`requested_at\`, \`id\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index \`sessions_requested_idx\`;`);
    this.addSql(`alter table \`sessions\` drop column \`start\`;`);
  }

}
