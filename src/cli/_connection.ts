/**
 * The connection flags of the commands that talk to a cluster, and connecting with them (or with
 * the environment `solution emulator up` prints). Loads no Kubernetes client until it connects.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from '@commander-js/extra-typings';
import { type Cluster, connect, type ServicesOptions, saltApiFromEnv } from '../cluster/index.js';
import { INGRESS_URL_ENV, SALT_API_ENV } from '../cluster/salt-api-env.js';
import { ClusterError } from '../errors.js';
import { FLAG_RULES, numericOption } from './_options.js';

/** Connection flags of every cluster command. */
export interface ConnectionFlags {
  kubeconfig?: string;
  ingressUrl?: string;
  via?: string;
  prometheusUrl?: string;
  alertmanagerUrl?: string;
  lokiUrl?: string;
  saltApiUrl?: string;
  saltApiUsername?: string;
  saltApiToken?: string;
  saltApiCaFile?: string;
  sshHost?: string;
  sshPort?: number;
  sshUser?: string;
  sshKey?: string;
  json?: boolean;
  quiet?: boolean;
}

/** Adds the connection flags to a command. */
export function withConnectionFlags<T extends Command<unknown[], Record<string, unknown>>>(cmd: T): T {
  cmd
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)')
    .option('--salt-api-url <url>', `SaltAPI URL (default: $${SALT_API_ENV.url}, else found from the cluster)`)
    .option('--salt-api-username <name>', `SaltAPI user (default: $${SALT_API_ENV.username})`)
    .option('--salt-api-token <token>', `SaltAPI bearer token (default: $${SALT_API_ENV.token})`)
    .option('--salt-api-ca-file <pem>', `CA of the SaltAPI certificate (default: $${SALT_API_ENV.caFile})`)
    .option('--ssh-host <host>', 'bootstrap node for --upload')
    .addOption(numericOption('--ssh-port <port>', 'SSH port', FLAG_RULES.port).default(22))
    .option('--ssh-user <user>', 'SSH user', 'root')
    .option('--ssh-key <file>', 'SSH private key for --upload')
    .option('--ingress-url <url>', `control-plane ingress for Prometheus, Alertmanager and Loki (default: $${INGRESS_URL_ENV}, else the ClusterConfig)`)
    .option('--via <route>', 'reach the platform services through the "ingress" or the API server "proxy"')
    .option('--prometheus-url <url>', 'Prometheus (or Thanos query) URL, instead of the route')
    .option('--alertmanager-url <url>', 'Alertmanager URL, instead of the route')
    .option('--loki-url <url>', 'Loki URL, instead of the route')
    .option('--json', 'JSON event lines on stdout, for CI')
    .option('-q, --quiet', 'print errors only');
  return cmd;
}

/** The `services` option of `connect()` from the flags and `METALK8S_INGRESS_URL`. */
export function servicesFrom(flags: ConnectionFlags): ServicesOptions {
  if (flags.via !== undefined && flags.via !== 'ingress' && flags.via !== 'proxy') {
    throw new ClusterError('VIA_INVALID', `--via ${flags.via}: expected "ingress" or "proxy"`, { hint: 'Pass --via ingress or --via proxy.' });
  }
  return {
    ingressUrl: flags.ingressUrl ?? process.env[INGRESS_URL_ENV],
    via: flags.via as ServicesOptions['via'],
    prometheusUrl: flags.prometheusUrl,
    alertmanagerUrl: flags.alertmanagerUrl,
    lokiUrl: flags.lokiUrl,
  };
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
      ? { host: flags.sshHost, port: flags.sshPort ?? 22, user: flags.sshUser ?? 'root', privateKey: await readFile(flags.sshKey, 'utf8') }
      : undefined;
  const services = servicesFrom(flags);
  return connect({
    ...(flags.kubeconfig ? { kubeconfigPath: flags.kubeconfig } : {}),
    ...(ssh ? { ssh } : {}),
    services,
    saltApi: { url: flags.saltApiUrl ?? env?.url, username, token, ca },
    signal,
  });
}
