/**
 * Writes (or completes) the `.env` that docker-compose.yml reads: a random secret for every
 * variable the compose file requires, the values of an existing file kept, mode 600.
 *
 *   node dist/scripts/compose-env.js [--compose docker-compose.yml] [--output .env] [--public-host NAME]
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { writeFileAtomically } from '../core/atomic-file.js';
import { composeEnv } from '../core/compose-env.js';

const USAGE = 'usage: compose-env.js [--compose docker-compose.yml] [--output .env] [--public-host NAME]';

function options(): { compose: string; output: string; publicHost: string | undefined } {
  try {
    const { values } = parseArgs({
      options: { compose: { type: 'string', default: 'docker-compose.yml' }, output: { type: 'string', short: 'o', default: '.env' }, 'public-host': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      console.log(USAGE);
      process.exit(0);
    }
    return { compose: values.compose, output: values.output, publicHost: values['public-host'] };
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}

const opts = options();
const composeText = await readFile(opts.compose, 'utf8').catch((err: unknown) => {
  console.error(`cannot read ${opts.compose}: ${(err as Error).message}`);
  process.exit(1);
});
// Only a file that is not there is started afresh: one that cannot be read (another user's, mode
// 600) must not be replaced by new secrets, which would lock the stack out of its database.
const existing = await readFile(opts.output, 'utf8').catch((err: NodeJS.ErrnoException) => {
  if (err.code === 'ENOENT') return null;
  console.error(`cannot read ${opts.output}: ${err.message} (nothing was changed)`);
  process.exit(1);
});
const env = composeEnv(composeText, existing, opts.publicHost);
await writeFileAtomically(opts.output, env.text, { mode: 0o600 });
// Names only: the values are secrets.
console.log(`${opts.output}: ${env.generated.length ? `generated ${env.generated.join(', ')}` : 'every secret was already set'}${existing === null ? '' : ' (existing values kept)'}`);
if (!/^HACKSTREAM_PUBLIC_HOST=/m.test(env.text)) console.log('set HACKSTREAM_PUBLIC_HOST (--public-host) to the name clients use, unless it is localhost');
