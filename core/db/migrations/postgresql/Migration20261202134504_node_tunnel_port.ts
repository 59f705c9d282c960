import { Migration } from '@mikro-orm/migrations';

export class Migration20261202134504_node_tunnel_port extends Migration {

  override name = 'Migration20261202134504_node_tunnel_port';

  override up(): void | Promise<void> {
    this.addSql(`alter table "nodes" add "tunnel_port" int null;`);
    this.addSql(`alter table "nodes" add constraint "nodes_tunnel_port_unique" unique ("tunnel_port");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "nodes" drop constraint "nodes_tunnel_port_unique";`);
    this.addSql(`alter table "nodes" drop column "tunnel_port";`);
  }

}
