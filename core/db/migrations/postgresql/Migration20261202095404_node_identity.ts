import { Migration } from '@mikro-orm/migrations';

export class Migration20261202095404_node_identity extends Migration {

  override name = 'Migration20261202095404_node_identity';

  override up(): void | Promise<void> {
    this.addSql(`alter table "nodes" add "public_key" text null, add "fingerprint" varchar(64) null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "nodes" drop column "public_key", drop column "fingerprint";`);
  }

}
