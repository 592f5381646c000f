/**
 * `connect()`: one entry point to a MetalK8s cluster, giving the Solution lifecycle sub-APIs.
 * Finds the SaltAPI from the cluster when no URL is given, and the saltenv from the cluster
 * version (metalk8s-reference.md §3.1, §3.3).
 *
 * @module
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { ClusterError } from '../errors.js';
import { Discovery, kubeFailure, kubeGet, kubeRequest } from '../_kube.js';
import type { LifecycleContext } from './_lifecycle.js';
import { checkServicesOptions, type ServicesOptions } from './_service-http.js';
import { numberOption, TCP_PORT } from '../_number-option.js';
import { EnvironmentsApi } from './environments.js';
import { NodesApi } from './nodes.js';
import { type KubeconfigSource, loadKubeConfig, type PlatformServices, platformServices } from './platform.js';
import { SaltApiClient } from './salt-api.js';
import { SolutionsApi } from './solutions.js';

/** SaltAPI credentials for {@link connect}. */
export interface ConnectSaltApi {
  /** Base URL. @default found from the cluster (control-plane ingress, else the bootstrap node on 4507) */
  readonly url?: string | undefined;
  /**
   * `system:serviceaccount:<ns>:<name>` or `oidc:<email>`.
   * @default the kubeconfig user's name, asked with a SelfSubjectReview
   */
  readonly username?: string | undefined;
  /**
   * Bearer token the `kubernetes_rbac` eauth checks with a TokenReview.
   * @default the kubeconfig user's token
   */
  readonly token?: string | undefined;
  /** PEM CA of the SaltAPI certificate. @default the kubeconfig's cluster CA */
  readonly ca?: string | undefined;
}

/** SSH access to the bootstrap node for {@link connect}. */
export interface ConnectSsh {
  readonly host: string;
  /** A whole number from 1 to 65535. @default 22 */
  readonly port?: number | undefined;
  readonly user: string;
  /** Private key text (PEM or OpenSSH). */
  readonly privateKey: string | Buffer;
}

/** Options of {@link connect}. */
export interface ConnectOptions extends KubeconfigSource {
  /**
   * SaltAPI URL and credentials.
   * @default found from the cluster, with the kubeconfig user's token
   */
  readonly saltApi?: ConnectSaltApi | undefined;
  /** SSH access to the bootstrap node, for `import(iso, { upload: true })`. @default none */
  readonly ssh?: ConnectSsh | undefined;
  /**
   * How to reach Prometheus, Alertmanager and Loki.
   * @default the control-plane ingress found in the ClusterConfig, else the API server's service proxy
   */
  readonly services?: ServicesOptions | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** A connected cluster: the lifecycle APIs and the platform services. */
export interface Cluster extends PlatformServices {
  readonly kubeConfig: KubeConfig;
  readonly salt: SaltApiClient;
  /** MetalK8s version (`metalk8s.scality.com/cluster-version` on `kube-system`). */
  readonly version: string;
  /** `metalk8s-<version>`. */
  readonly saltenv: string;
  /** Minion id of the bootstrap node. */
  readonly bootstrapId: string;
  readonly solutions: SolutionsApi;
  readonly environments: EnvironmentsApi;
  /** Node lifecycle: declare, preflight, deploy, drain, cordon, remove. */
  readonly nodes: NodesApi;
}

export type { PlatformService, ServiceEndpoint, ServiceRoute, ServicesOptions } from './_service-http.js';

/**
 * Connects to a MetalK8s cluster: reads its version and bootstrap node, finds and logs in to
 * its SaltAPI.
 *
 * @throws `ClusterError` `KUBE_API_UNREACHABLE`, `NOT_METALK8S`, `SALT_AUTH_FAILED`;
 *   `SdkError` `OPTION_INVALID` for an SSH port or a services timeout out of range.
 * @example
 * ```ts
 * const cluster = await connect({ kubeconfigPath: '/etc/kubernetes/admin.conf', saltApi: { username, token } });
 * await cluster.solutions.import('zenko-2.6.0.iso');
 * ```
 */
export async function connect(options: ConnectOptions): Promise<Cluster> {
  // Before the first request. ssh2 took a NaN or 0 port for 22 without a word.
  numberOption('ssh.port', options.ssh?.port, TCP_PORT);
  checkServicesOptions(options.services);
  const kc = await loadKubeConfig(options);
  const ns = await kubeGet<{ metadata: { annotations?: Record<string, string> } }>(kc, '/api/v1/namespaces/kube-system', options.signal);
  const version = ns?.metadata.annotations?.['metalk8s.scality.com/cluster-version'];
  if (!version) {
    throw new ClusterError('NOT_METALK8S', 'namespace kube-system has no metalk8s.scality.com/cluster-version annotation: this is not a MetalK8s cluster', {
      hint: 'Point the kubeconfig at a MetalK8s cluster.',
    });
  }
  const nodes = await kubeGet<{ items: { metadata: { name: string }; status?: { addresses?: { type: string; address: string }[] } }[] }>(
    kc,
    `/api/v1/nodes?labelSelector=${encodeURIComponent('node-role.kubernetes.io/bootstrap')}`,
    options.signal,
  );
  const bootstrap = nodes?.items[0];
  const bootstrapId = bootstrap?.metadata.name ?? 'bootstrap';
  let url = options.saltApi?.url;
  if (url === undefined) {
    const cfg = await kubeGet<{ status?: { controlPlane?: { ingress?: { endpoint?: string } } } }>(
      kc,
      '/apis/metalk8s.scality.com/v1alpha1/clusterconfigs/main',
      options.signal,
    ).catch(() => undefined);
    const ingress = cfg?.status?.controlPlane?.ingress?.endpoint;
    const ip = bootstrap?.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
    url = ingress ? `${ingress.replace(/\/+$/, '')}/api/salt` : ip ? `https://${ip}:4507` : undefined;
  }
  if (url === undefined) {
    throw new ClusterError('SALT_API_NOT_FOUND', 'cannot find the SaltAPI: no ClusterConfig ingress endpoint and no bootstrap node address', {
      hint: 'Pass the SaltAPI URL (--salt-api-url or METALK8S_SALT_API_URL).',
    });
  }
  const token = options.saltApi?.token ?? kc.getCurrentUser()?.token;
  if (!token) {
    throw new ClusterError('SALT_API_CREDENTIALS_MISSING', 'no SaltAPI token: none given, and the kubeconfig user has no bearer token', {
      hint: 'Pass saltApi.username and saltApi.token (a ServiceAccount token of a node admin, or an OIDC access token).',
    });
  }
  let username = options.saltApi?.username;
  if (username === undefined) {
    const review = await kubeRequest(
      kc,
      'POST',
      '/apis/authentication.k8s.io/v1/selfsubjectreviews',
      { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
      undefined,
      options.signal,
    );
    username = (review.json as { status?: { userInfo?: { username?: string } } } | undefined)?.status?.userInfo?.username;
    if (!username) throw kubeFailure('SelfSubjectReview (to find the SaltAPI user name)', review);
  }
  const caData = kc.getCurrentCluster()?.caData;
  const ca = options.saltApi?.ca ?? (caData ? Buffer.from(caData, 'base64') : undefined);
  const salt = new SaltApiClient({ url, username, token, ...(ca ? { ca } : {}) });
  const session = await salt.login({ signal: options.signal });
  // salt-api lets a user without rights log in (empty perms), then refuses every call (reference §8).
  if (session.perms.length === 0) {
    throw new ClusterError('SALT_NOT_NODE_ADMIN', `SaltAPI accepts "${username}" but grants it no right: it is not a MetalK8s node-admin`, {
      hint: `MetalK8s gives SaltAPI rights to users allowed every verb on nodes: bind "${username}" to a ClusterRole with rules [{apiGroups: [""], resources: ["nodes"], verbs: ["*"]}] (or use an admin's token).`,
    });
  }
  const ctx: LifecycleContext = { kubeConfig: kc, discovery: new Discovery(kc), salt, saltenv: `metalk8s-${version}`, bootstrapId, ssh: options.ssh };
  return {
    ...platformServices(kc, options.services),
    salt,
    version,
    saltenv: ctx.saltenv,
    bootstrapId,
    solutions: new SolutionsApi(ctx),
    environments: new EnvironmentsApi(ctx),
    nodes: new NodesApi(ctx),
  };
}
