import { Migration } from '@mikro-orm/migrations';

export class Migration20261201183535_session_ready_refresh_retry extends Migration {

  override name = 'Migration20261201183535_session_ready_refresh_retry';

  override up(): void | Promise<void> {
    this.addSql(`alter table "refresh_tokens" add "replaced_at" timestamptz null;`);

    this.addSql(`create index "sessions_ready_idx" on "sessions" ("ready_at");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "refresh_tokens" drop column "replaced_at";`);

    this.addSql(`drop index "sessions_ready_idx";`);
  }

}
