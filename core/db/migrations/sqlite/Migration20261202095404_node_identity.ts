import { Migration } from '@mikro-orm/migrations';

export class Migration20261202095404_node_identity extends Migration {

  override name = 'Migration20261202095404_node_identity';

  override up(): void | Promise<void> {
    this.addSql(`alter table \`nodes\` add column \`public_key\` text null;`);
    this.addSql(`alter table \`nodes\` add column \`fingerprint\` text null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table \`nodes\` drop column \`public_key\`;`);
    this.addSql(`alter table \`nodes\` drop column \`fingerprint\`;`);
  }

}
