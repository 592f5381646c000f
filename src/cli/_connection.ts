/**
 * The connection flags of the commands that talk to a cluster, and connecting with them (or with
 * the environment `solution emulator up` prints). Loads no Kubernetes client until it connects.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from '@commander-js/extra-typings';
import { type Cluster, connect, SALT_API_ENV, saltApiFromEnv } from '../cluster/index.js';
import { ClusterError } from '../errors.js';

/** The connection flags every cluster command takes. */
export interface ConnectionFlags {
  kubeconfig?: string;
  saltApiUrl?: string;
  saltApiUsername?: string;
  saltApiToken?: string;
  saltApiCaFile?: string;
  sshHost?: string;
  sshPort?: string;
  sshUser?: string;
  sshKey?: string;
  json?: boolean;
  quiet?: boolean;
}

/** Adds the connection flags (kubeconfig, SaltAPI, SSH, --json, -q) to a command. */
export function withConnectionFlags<T extends Command<unknown[], Record<string, unknown>>>(cmd: T): T {
  cmd
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)')
    .option('--salt-api-url <url>', `SaltAPI URL (default: $${SALT_API_ENV.url}, else found from the cluster)`)
    .option('--salt-api-username <name>', `SaltAPI user (default: $${SALT_API_ENV.username})`)
    .option('--salt-api-token <token>', `SaltAPI bearer token (default: $${SALT_API_ENV.token})`)
    .option('--salt-api-ca-file <pem>', `CA of the SaltAPI certificate (default: $${SALT_API_ENV.caFile})`)
    .option('--ssh-host <host>', 'bootstrap node for --upload')
    .option('--ssh-port <port>', 'SSH port', '22')
    .option('--ssh-user <user>', 'SSH user', 'root')
    .option('--ssh-key <file>', 'SSH private key for --upload')
    .option('--json', 'JSON event lines on stdout, for CI')
    .option('-q, --quiet', 'print errors only');
  return cmd;
}

/** Connects with the flags, else the environment `solution emulator up` prints. */
export async function connectFrom(flags: ConnectionFlags, signal: AbortSignal): Promise<Cluster> {
  const env = saltApiFromEnv(process.env);
  const username = flags.saltApiUsername ?? env?.username;
  const token = flags.saltApiToken ?? env?.token;
  if (!username || !token) {
    throw new ClusterError('SALT_API_CREDENTIALS_MISSING', 'no SaltAPI credentials: a user name and a token are needed', {
      hint: `Pass --salt-api-username and --salt-api-token, or set ${SALT_API_ENV.username} and ${SALT_API_ENV.token} (\`eval "$(solution emulator up)"\` sets them).`,
    });
  }
  const caFile = flags.saltApiCaFile ?? env?.caFile;
  const ca = caFile ? await readFile(caFile, 'utf8') : undefined;
  const ssh =
    flags.sshHost && flags.sshKey
      ? { host: flags.sshHost, port: Number(flags.sshPort ?? 22), user: flags.sshUser ?? 'root', privateKey: await readFile(flags.sshKey, 'utf8') }
      : undefined;
  return connect({
    ...(flags.kubeconfig ? { kubeconfigPath: flags.kubeconfig } : {}),
    ...(ssh ? { ssh } : {}),
    saltApi: { url: flags.saltApiUrl ?? env?.url, username, token, ca },
    signal,
  });
}
