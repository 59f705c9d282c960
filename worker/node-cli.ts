/**
 * `hackstream-node`: a session node's command line.
 *
 *   hackstream-node enroll --server URL --name NAME [options]   make the node's key, enrol it, wait for approval
 *   hackstream-node renew [--dir DIR]                            a fresh certificate for an approved node
 *   hackstream-node run [--dir DIR] [options]                   run the approved node (worker/edge-node.ts)
 *
 * Exit codes: 0 done, 2 bad usage, 3 the API refused (revoked, name taken, bad request), 4 the
 * API could not be reached, 5 still waiting for approval when --wait ran out.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { defaultNodeCapacity } from '../core/config.js';
import { NODE_ID_PATTERN, parseNodeLabels } from '../core/node-names.js';
import { EnrolmentError, NodeEnrolment, type CertificateAnswer } from './node-enrolment.js';
import Docker from 'dockerode';
import { DockerSessionRuntime } from '../activities/docker-session-runtime.js';
import { SubnetPool } from '../activities/subnet-pool.js';
import { INGRESS_GROUP } from '../core/ingress-names.js';
import { createLogger } from '../core/logger.js';
import { domainOfGatewayName } from '../core/node-identity.js';
import { startEdgeNode } from './edge-node.js';
import { SessionDemux } from './session-demux.js';

const EXIT = { ok: 0, usage: 2, refused: 3, unreachable: 4, pending: 5 } as const;
const DEFAULT_DIR = '/var/lib/hackstream-node';

const USAGE = `usage:
  hackstream-node enroll --server URL --name NAME [--labels k=v,...] [--memory-mb N] [--cpus N]
                         [--max-sessions N] [--dir DIR] [--ca-file FILE] [--wait SECONDS]
  hackstream-node renew [--dir DIR]
  hackstream-node run [--dir DIR] [--docker-socket PATH] [--session-subnets CIDR]
                      [--ingress-group GROUP] [--heartbeat-seconds N] [--poll-seconds N]
                      [--renew-seconds N] [--memory-merge]

enroll makes this node's key (it never leaves DIR), sends its certificate request to the API,
prints the key's fingerprint for the operator to compare with what an admin sees before approving
it, and waits (--wait, default 3600 s; 0: do not wait) for the approval, then stores the node's
certificate in DIR. Run it again to go on waiting: the same key is used.
renew asks for a fresh certificate (the node's certificates are short-lived).
run runs the approved node: its sessions' containers on this host's Docker engine, Temporal
reached through the node gateway, user traffic through its tunnel; it only dials out. As root.

  --server URL      the HackStream API, e.g. https://hackstream.example:8443
  --name NAME       this node's name: lower-case letters, digits and dashes
  --labels k=v,...  what sessions may ask of this node, e.g. region=home,gpu=true
  --memory-mb N     memory sessions may reserve here (default: the host's, less 1 GiB)
  --cpus N          CPUs sessions may reserve here (default: four times the host's)
  --max-sessions N  sessions at once (default 100)
  --dir DIR         where the key, certificate and settings live (default /var/lib/hackstream-node)
  --ca-file FILE    a CA to check the API's certificate with, besides the system's
  --wait SECONDS    how long to wait for approval
  --docker-socket PATH    the Docker engine (default /var/run/docker.sock)
  --session-subnets CIDR  where sessions' networks come from (default 10.213.0.0/16)
  --ingress-group GROUP   the group the node's demux runs with (default hackstream-ingress)
  --heartbeat-seconds N   how often the node tells the API it is alive (default 10)
  --poll-seconds N        how often its sessions' activity is looked at (default 5)
  --renew-seconds N       how often its certificate is renewed (default: at half its life)
  --memory-merge          let the kernel merge sessions' identical memory pages (the host's ksmd
                          must run; a side channel between sessions: see the README)`;

class UsageError extends Error {}

function numberOption(value: string | undefined, name: string, fallback: number, integer = true): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) throw new UsageError(`--${name} must be a ${integer ? 'whole ' : ''}number ≥ 0, not "${value}"`);
  return n;
}

const settingsFile = (dir: string) => path.join(dir, 'node.json');

interface NodeSettings {
  server: string;
  name: string;
  caFile?: string;
}

async function loadSettings(dir: string): Promise<NodeSettings> {
  const text = await readFile(settingsFile(dir), 'utf8').catch(() => {
    throw new UsageError(`${dir} holds no enrolled node: run \`hackstream-node enroll\` first`);
  });
  return JSON.parse(text) as NodeSettings;
}

async function enrolment(settings: NodeSettings, dir: string): Promise<NodeEnrolment> {
  const caPem = settings.caFile ? await readFile(settings.caFile, 'utf8') : undefined;
  return new NodeEnrolment({ url: settings.server, caPem }, dir, settings.name);
}

function approved(answer: CertificateAnswer & { approved: true }, dir: string): void {
  console.log(`approved: certificate stored in ${dir}, valid until ${answer.notAfter.toISOString()}`);
  console.log(`node gateway: ${answer.gateway.address} (${answer.gateway.serverName})`);
}

async function enroll(args: string[], log: (line: string) => void): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      server: { type: 'string' },
      name: { type: 'string' },
      labels: { type: 'string', default: '' },
      'memory-mb': { type: 'string' },
      cpus: { type: 'string' },
      'max-sessions': { type: 'string' },
      dir: { type: 'string', default: DEFAULT_DIR },
      'ca-file': { type: 'string' },
      wait: { type: 'string' },
    },
    strict: true,
  });
  if (!values.server || !/^https?:\/\//.test(values.server)) throw new UsageError('--server must be the API URL, e.g. https://hackstream.example:8443');
  if (!values.name || !NODE_ID_PATTERN.test(values.name)) throw new UsageError('--name must be 1–63 lower-case letters, digits and dashes (not at either end)');
  const labels = parseNodeLabels(values.labels);
  if (!labels.ok) throw new UsageError(`--labels: "${labels.bad}" is not key=value`);
  const host = defaultNodeCapacity();
  const capacity = {
    memoryMb: numberOption(values['memory-mb'], 'memory-mb', host.memoryMb),
    cpus: numberOption(values.cpus, 'cpus', host.cpus, false),
    maxSessions: numberOption(values['max-sessions'], 'max-sessions', 100),
  };
  const waitSeconds = numberOption(values.wait, 'wait', 3600);
  const dir = path.resolve(values.dir);
  const settings: NodeSettings = { server: values.server, name: values.name, ...(values['ca-file'] ? { caFile: path.resolve(values['ca-file']) } : {}) };
  const client = await enrolment(settings, dir);
  const { state, fingerprint } = await client.enrol({ labels: labels.labels, capacity });
  await writeFile(settingsFile(dir), JSON.stringify(settings, null, 2) + '\n', { mode: 0o644 });
  console.log(`node ${values.name} enrolled (${state})`);
  console.log(`fingerprint: ${fingerprint}`);
  const deadline = Date.now() + waitSeconds * 1000;
  for (let asked = 0; ; asked++) {
    const answer = await client.fetchCertificate();
    if (answer.approved) {
      approved(answer, dir);
      return EXIT.ok;
    }
    if (Date.now() >= deadline) {
      log(`still ${answer.state}: an admin approves it after comparing the fingerprint (run this again to go on waiting)`);
      return EXIT.pending;
    }
    if (asked === 0) log(`waiting for an admin to compare the fingerprint and approve node ${values.name} …`);
    await new Promise((r) => setTimeout(r, Math.min(5000, Math.max(0, deadline - Date.now()))));
  }
}

async function renew(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { dir: { type: 'string', default: DEFAULT_DIR } }, strict: true });
  const dir = path.resolve(values.dir);
  const answer = await (await enrolment(await loadSettings(dir), dir)).fetchCertificate();
  if (!answer.approved) {
    console.error(`node is ${answer.state}: no certificate until an admin approves it`);
    return EXIT.pending;
  }
  approved(answer, dir);
  return EXIT.ok;
}

async function run(args: string[], log: (line: string) => void): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      dir: { type: 'string', default: DEFAULT_DIR },
      'docker-socket': { type: 'string', default: '/var/run/docker.sock' },
      'session-subnets': { type: 'string', default: '10.213.0.0/16' },
      'ingress-group': { type: 'string', default: INGRESS_GROUP },
      'heartbeat-seconds': { type: 'string' },
      'poll-seconds': { type: 'string' },
      'renew-seconds': { type: 'string' },
      'memory-merge': { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (!/^\d{1,3}(\.\d{1,3}){3}\/([0-9]|1[0-9]|2[0-8])$/.test(values['session-subnets'])) throw new UsageError('--session-subnets must be an IPv4 range no smaller than /28');
  const dir = path.resolve(values.dir);
  const settings = await loadSettings(dir);
  const logger = createLogger({ level: 'info', service: 'hackstream-node', json: undefined });
  const node = await startEdgeNode({
    dir,
    nodeId: settings.name,
    api: await enrolment(settings, dir),
    dockerSocket: values['docker-socket'],
    sessionSubnets: values['session-subnets'],
    ingressGroup: values['ingress-group'],
    memoryMerge: values['memory-merge'],
    heartbeatSeconds: Math.max(1, numberOption(values['heartbeat-seconds'], 'heartbeat-seconds', 10)),
    pollSeconds: Math.max(1, numberOption(values['poll-seconds'], 'poll-seconds', 5)),
    reconcileGraceSeconds: 180,
    renewSeconds: values['renew-seconds'] === undefined ? undefined : Math.max(1, numberOption(values['renew-seconds'], 'renew-seconds', 0)),
    // This very command, as it was started (node, its loader flags, this script).
    demuxCommand: [process.execPath, ...process.execArgv, process.argv[1]!],
    logger,
  });
  log(`node ${settings.name} running`);
  // The SDK shuts the worker down on SIGINT and SIGTERM; run() resolves then.
  await node.run();
  await node.close();
  return EXIT.ok;
}

/** The node's demux (worker/session-demux.ts), as `run` starts it: prints its port, routes until stopped. */
async function demux(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { 'gateway-name': { type: 'string' }, 'docker-socket': { type: 'string' }, stack: { type: 'string' } }, strict: true });
  const domain = domainOfGatewayName(values['gateway-name'] ?? '');
  if (!domain || !values['docker-socket'] || !values.stack) throw new UsageError('demux needs --gateway-name, --docker-socket and --stack (hackstream-node run starts it)');
  const runtime = new DockerSessionRuntime(new Docker({ socketPath: values['docker-socket'] }), new SubnetPool('10.213.0.0/16'), values.stack);
  const logger = createLogger({ level: 'info', service: 'hackstream-node-demux', json: undefined });
  const server = new SessionDemux({ domain, addressOf: (id) => runtime.sessionAddress(id), logger });
  const port = await server.start();
  console.log(`listening on 127.0.0.1:${port}`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  await server.close();
  return EXIT.ok;
}

export async function runNodeCli(argv: string[], log: (line: string) => void = (l) => console.error(l)): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === 'enroll') return await enroll(rest, log);
    if (command === 'renew') return await renew(rest);
    if (command === 'run') return await run(rest, log);
    if (command === 'demux') return await demux(rest);
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      console.log(USAGE);
      return command === undefined ? EXIT.usage : EXIT.ok;
    }
    throw new UsageError(`unknown command "${command}"`);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      log(`hackstream-node: ${(err as Error).message}\n\n${USAGE}`);
      return EXIT.usage;
    }
    if (err instanceof EnrolmentError) {
      log(`hackstream-node: ${err.message}${err.code ? ` (${err.code})` : ''}`);
      return err.status === undefined ? EXIT.unreachable : EXIT.refused;
    }
    throw err;
  }
}
