import { Migration } from '@mikro-orm/migrations';

export class Migration20261203140114_proxy_sign_in extends Migration {

  override name = 'Migration20261203140114_proxy_sign_in';

  // Written by hand: the generator rebuilt the table and copied a null into the new not-null
  // column; SQLite adds a column with a default and a check in place.
  override up(): void | Promise<void> {
    this.addSql(`alter table \`users\` add column \`identity\` text not null default 'local' check (\`identity\` in ('local', 'proxy'));`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table \`users\` drop column \`identity\`;`);
  }

}
