import { Migration } from '@mikro-orm/migrations';

export class Migration20261122073315_session_network extends Migration {

  override name = 'Migration20261122073315_session_network';

  override up(): void | Promise<void> {
    this.addSql(`alter table \`sessions\` drop column \`xpra_host_port\`;`);
    this.addSql(`alter table \`sessions\` add column \`container_ip\` text null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table \`sessions\` drop column \`container_ip\`;`);
    this.addSql(`alter table \`sessions\` add column \`xpra_host_port\` integer null;`);
  }

}
