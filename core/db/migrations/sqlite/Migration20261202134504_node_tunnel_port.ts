import { Migration } from '@mikro-orm/migrations';

export class Migration20261202134504_node_tunnel_port extends Migration {

  override name = 'Migration20261202134504_node_tunnel_port';

  override up(): void | Promise<void> {
    this.addSql(`alter table \`nodes\` add column \`tunnel_port\` integer null;`);
    this.addSql(`create unique index \`nodes_tunnel_port_unique\` on \`nodes\` (\`tunnel_port\`);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index \`nodes_tunnel_port_unique\`;`);
    this.addSql(`alter table \`nodes\` drop column \`tunnel_port\`;`);
  }

}
