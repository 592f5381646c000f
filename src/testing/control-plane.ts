/**
 * A real Kubernetes control plane for tests: etcd, kube-apiserver, kube-controller-manager,
 * kube-scheduler and kwok (simulated kubelets), all on 127.0.0.1 on free ports, with a per-run
 * PKI. No container really runs: kwok marks Nodes Ready and Pods Running, so Deployments
 * become Available, and evictions and deletions complete, through the real controllers.
 *
 * The binaries are built from the Go module proxy on first use by
 * `scripts/build-control-plane.sh` and cached in `$SDK_CACHE_DIR/bin/<version>/`; a directory
 * in `KUBEBUILDER_ASSETS` (envtest's convention) is used first when it has them.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { AbortError, ClusterError } from '../errors.js';
import { installKwokLogCrds, KWOK_LOG_KINDS } from './pod-logs.js';
import { generatePki, issueServerCertificate } from './_pki.js';
import { freePort } from './_ports.js';
import { type Daemon, startDaemon } from './_process.js';
import { pollUntil } from '../_wait.js';

const run = promisify(execFile);

/** Kubernetes release the harness builds and runs. */
export const KUBERNETES_VERSION = 'v1.34.4';

/** The binaries the harness runs. */
export const CONTROL_PLANE_BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok'] as const;

/** One of {@link CONTROL_PLANE_BINARIES}. */
export type ControlPlaneBinary = (typeof CONTROL_PLANE_BINARIES)[number];

/** Progress of {@link startControlPlane}. */
export type ControlPlaneProgressEvent =
  | { readonly type: 'building'; readonly binaries: readonly ControlPlaneBinary[] }
  | { readonly type: 'starting'; readonly component: string }
  | { readonly type: 'ready'; readonly component: string; readonly elapsedMs: number };

/** Options of {@link startControlPlane}. */
export interface StartControlPlaneOptions {
  /**
   * Directory holding the binaries; when unset, `KUBEBUILDER_ASSETS` then the build cache.
   * @default undefined
   */
  readonly binDir?: string | undefined;
  /**
   * Build missing binaries with `scripts/build-control-plane.sh` (Go and the module proxy needed).
   * @default true
   */
  readonly build?: boolean | undefined;
  /**
   * Also run kube-controller-manager, kube-scheduler and kwok (without them only the API works).
   * @default true
   */
  readonly controllers?: boolean | undefined;
  /**
   * Where to keep the PKI, etcd data and logs; removed by `stop()` when the harness made it.
   * @default a new temporary directory
   */
  readonly workDir?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly onProgress?: ((event: ControlPlaneProgressEvent) => void) | undefined;
}

/** Options of {@link ControlPlane.mintToken}. */
export interface MintTokenOptions {
  /**
   * Token lifetime, seconds (the API server's minimum is 600).
   * @default 3600
   */
  readonly expirationSeconds?: number | undefined;
  /**
   * Create the ServiceAccount (and its namespace) when missing.
   * @default true
   */
  readonly create?: boolean | undefined;
}

/** A running control plane. */
export interface ControlPlane {
  /** `https://127.0.0.1:<port>`. */
  readonly server: string;
  /** Path of the admin kubeconfig file (client certificate in `system:masters`). */
  readonly kubeconfigPath: string;
  /** The admin kubeconfig's text. */
  readonly kubeconfigYaml: string;
  /** PEM of the cluster CA (signs the API server and client certificates). */
  readonly caCert: string;
  /** Working directory: PKI, etcd data, one log per component. */
  readonly dir: string;
  /** Kubernetes version of the binaries. */
  readonly version: string;
  /** A `KubeConfig` for the admin user. */
  kubeConfig(): KubeConfig;
  /**
   * Issues a TLS server certificate signed by the cluster CA (as MetalK8s signs salt-api's),
   * valid for `names` (DNS names and IP addresses). Returns PEM texts.
   */
  issueServerCertificate(name: string, names: readonly string[]): Promise<{ cert: string; key: string }>;
  /** Mints a bearer token for a ServiceAccount through the TokenRequest API. */
  mintToken(namespace: string, serviceAccount: string, options?: MintTokenOptions): Promise<string>;
  /** Stops every component and removes the working directory (when the harness made it). */
  stop(): Promise<void>;
}

function cacheDir(): string {
  return process.env.SDK_CACHE_DIR ?? '/var/cache/metalk8s-sdk';
}

function buildScript(): string {
  // src/testing/x.ts and dist/testing/x.js both sit two levels below the package root.
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/build-control-plane.sh');
}

function locate(binDir: string | undefined): Map<ControlPlaneBinary, string> {
  const dirs = binDir
    ? [binDir]
    : [process.env.KUBEBUILDER_ASSETS, path.join(cacheDir(), 'bin', KUBERNETES_VERSION)].filter(
        (d): d is string => typeof d === 'string' && d !== '',
      );
  const found = new Map<ControlPlaneBinary, string>();
  for (const name of CONTROL_PLANE_BINARIES) {
    for (const dir of dirs) {
      const file = path.join(dir, name);
      if (existsSync(file)) {
        found.set(name, file);
        break;
      }
    }
  }
  return found;
}

/**
 * Finds the control-plane binaries, building the missing ones when allowed. Throws a
 * `CONTROL_PLANE_UNAVAILABLE` {@link ClusterError} that says exactly what is missing and why.
 *
 * @example
 * ```ts
 * const bins = await controlPlaneBinaries();
 * console.log(bins.get('kube-apiserver'));
 * ```
 */
export async function controlPlaneBinaries(
  options: Pick<StartControlPlaneOptions, 'binDir' | 'build' | 'controllers' | 'signal' | 'onProgress'> = {},
): Promise<Map<ControlPlaneBinary, string>> {
  const wanted: readonly ControlPlaneBinary[] =
    options.controllers === false ? ['etcd', 'kube-apiserver'] : CONTROL_PLANE_BINARIES;
  let found = locate(options.binDir);
  let missing = wanted.filter((b) => !found.has(b));
  if (missing.length === 0) return found;
  if (options.build === false || options.binDir !== undefined) {
    throw new ClusterError('CONTROL_PLANE_UNAVAILABLE', `control-plane binaries not found: ${missing.join(', ')}`, {
      hint: `Run scripts/build-control-plane.sh (needs Go >= 1.24 and the Go module proxy), or point KUBEBUILDER_ASSETS at a directory holding them.`,
    });
  }
  if (!existsSync(buildScript())) {
    throw new ClusterError('CONTROL_PLANE_UNAVAILABLE', `control-plane binaries not found (${missing.join(', ')}) and ${buildScript()} is missing`, {
      hint: 'Point KUBEBUILDER_ASSETS at a directory holding the binaries, or build them with scripts/build-control-plane.sh from the SDK repository.',
    });
  }
  options.onProgress?.({ type: 'building', binaries: missing });
  try {
    await run('bash', [buildScript()], {
      env: { ...process.env, SDK_CACHE_DIR: cacheDir() },
      maxBuffer: 1 << 26,
      timeout: 90 * 60_000,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (err) {
    if (options.signal?.aborted) throw new AbortError('building the control plane', { cause: err });
    const e = err as { stderr?: string; message?: string };
    const detail = (e.stderr ?? e.message ?? String(err)).trim().split('\n').slice(-15).join('\n');
    throw new ClusterError('CONTROL_PLANE_UNAVAILABLE', `building the control-plane binaries failed:\n${detail}`, {
      cause: err,
      hint: 'The build needs Go >= 1.24 on PATH and the Go module proxy; or set KUBEBUILDER_ASSETS to prebuilt binaries.',
    });
  }
  found = locate(options.binDir);
  missing = wanted.filter((b) => !found.has(b));
  if (missing.length > 0) {
    throw new ClusterError('CONTROL_PLANE_UNAVAILABLE', `the build did not produce: ${missing.join(', ')}`, {
      hint: 'Run scripts/build-control-plane.sh by hand to see its output.',
    });
  }
  return found;
}


function getStatus(url: string, tls: { ca: string; cert: string; key: string }): Promise<number> {
  return new Promise((resolve) => {
    const req = https.get(url, { ...tls, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => {
      req.destroy();
      resolve(0);
    });
  });
}

async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  daemons: readonly Daemon[],
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  const up = await pollUntil(
    async () => {
      for (const d of daemons) {
        if (d.child.exitCode !== null || d.child.signalCode !== null) {
          throw new ClusterError('CONTROL_PLANE_FAILED', `${d.name} exited while waiting for ${what}:\n${d.tail()}`, {
            hint: `See ${d.log}.`,
          });
        }
      }
      return (await check()) ? true : undefined;
    },
    { what: 'starting the control plane', timeoutMs, intervalMs: 250, signal },
  );
  if (up) return;
  const logs = daemons.map((d) => `--- ${d.name}\n${d.tail(8)}`).join('\n');
  throw new ClusterError('CONTROL_PLANE_FAILED', `timed out waiting for ${what}\n${logs}`, {
    hint: 'The machine may be overloaded; see the component logs in the working directory.',
  });
}

/**
 * Starts etcd, kube-apiserver and (by default) kube-controller-manager, kube-scheduler and kwok
 * on 127.0.0.1, and waits until the API answers `/readyz` and the controllers have made the
 * `default` ServiceAccount.
 *
 * @example
 * ```ts
 * import { startControlPlane } from 'metalk8s-solution-sdk/testing';
 *
 * const cp = await startControlPlane();
 * try {
 *   const token = await cp.mintToken('kube-system', 'sdk');
 * } finally {
 *   await cp.stop();
 * }
 * ```
 */
export async function startControlPlane(options: StartControlPlaneOptions = {}): Promise<ControlPlane> {
  const started = Date.now();
  const bins = await controlPlaneBinaries(options);
  const bin = (name: ControlPlaneBinary): string => {
    const file = bins.get(name);
    if (!file) throw new ClusterError('CONTROL_PLANE_UNAVAILABLE', `missing binary ${name}`);
    return file;
  };
  const ownDir = options.workDir === undefined;
  const dir = options.workDir ?? (await mkdtemp(path.join(tmpdir(), 'sdk-control-plane-')));
  await mkdir(path.join(dir, 'pki'), { recursive: true });
  const daemons: Daemon[] = [];
  const stop = async (): Promise<void> => {
    for (const d of [...daemons].reverse()) await d.stop();
    daemons.length = 0;
    if (ownDir) await rm(dir, { recursive: true, force: true });
  };
  const progress = (component: string, type: 'starting' | 'ready'): void => {
    if (type === 'starting') options.onProgress?.({ type, component });
    else options.onProgress?.({ type, component, elapsedMs: Date.now() - started });
  };
  try {
    const serviceIp = '10.96.0.1';
    const pki = await generatePki(path.join(dir, 'pki'), serviceIp);
    const [etcdClient, etcdPeer, apiPort] = [await freePort(), await freePort(), await freePort()];

    progress('etcd', 'starting');
    const etcd = startDaemon(
      'etcd',
      bin('etcd'),
      [
        '--name=sdk-test',
        `--data-dir=${path.join(dir, 'etcd')}`,
        `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
        `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-cluster=sdk-test=http://127.0.0.1:${etcdPeer}`,
        '--unsafe-no-fsync=true',
        '--log-level=warn',
      ],
      path.join(dir, 'etcd.log'),
    );
    daemons.push(etcd);

    progress('kube-apiserver', 'starting');
    const apiserver = startDaemon(
      'kube-apiserver',
      bin('kube-apiserver'),
      [
        `--etcd-servers=http://127.0.0.1:${etcdClient}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${apiPort}`,
        `--cert-dir=${path.join(dir, 'pki')}`,
        `--tls-cert-file=${pki.serverCert}`,
        `--tls-private-key-file=${pki.serverKey}`,
        `--client-ca-file=${pki.caCert}`,
        `--service-account-key-file=${pki.saPub}`,
        `--service-account-signing-key-file=${pki.saKey}`,
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        '--api-audiences=https://kubernetes.default.svc.cluster.local',
        '--service-cluster-ip-range=10.96.0.0/16',
        '--authorization-mode=RBAC',
        '--allow-privileged=true',
        '--enable-priority-and-fairness=false',
        // kwok's Nodes also get a Hostname address that does not resolve: reach their
        // "kubelet" (kwok's server, for logs) by IP.
        '--kubelet-preferred-address-types=InternalIP',
        '--profiling=false',
        '--v=0',
      ],
      path.join(dir, 'kube-apiserver.log'),
    );
    daemons.push(apiserver);
    const server = `https://127.0.0.1:${apiPort}`;
    const [ca, cert, key] = await Promise.all([
      readFile(pki.caCert, 'utf8'),
      readFile(pki.adminCert, 'utf8'),
      readFile(pki.adminKey, 'utf8'),
    ]);
    await waitFor(
      'kube-apiserver /readyz',
      async () => (await getStatus(`${server}/readyz`, { ca, cert, key })) === 200,
      daemons,
      120_000,
      options.signal,
    );
    progress('kube-apiserver', 'ready');

    const kubeconfigYaml = stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'sdk-test', cluster: { server, 'certificate-authority-data': Buffer.from(ca).toString('base64') } }],
      users: [
        {
          name: 'admin',
          user: {
            'client-certificate-data': Buffer.from(cert).toString('base64'),
            'client-key-data': Buffer.from(key).toString('base64'),
          },
        },
      ],
      contexts: [{ name: 'sdk-test', context: { cluster: 'sdk-test', user: 'admin' } }],
      'current-context': 'sdk-test',
    });
    const kubeconfig = path.join(dir, 'admin.kubeconfig');
    await writeFile(`${kubeconfig}.tmp`, kubeconfigYaml, { mode: 0o600 });
    await rename(`${kubeconfig}.tmp`, kubeconfig);
    const kubeConfig = (): KubeConfig => {
      const kc = new KubeConfig();
      kc.loadFromString(kubeconfigYaml);
      return kc;
    };

    if (options.controllers !== false) {
      progress('kube-controller-manager', 'starting');
      daemons.push(
        startDaemon(
          'kube-controller-manager',
          bin('kube-controller-manager'),
          [
            `--kubeconfig=${kubeconfig}`,
            '--bind-address=127.0.0.1',
            '--secure-port=0',
            '--leader-elect=false',
            `--service-account-private-key-file=${pki.saKey}`,
            `--root-ca-file=${pki.caCert}`,
            '--cluster-cidr=10.244.0.0/16',
            '--service-cluster-ip-range=10.96.0.0/16',
            '--node-monitor-grace-period=40s',
            '--concurrent-deployment-syncs=2',
            '--v=0',
          ],
          path.join(dir, 'kube-controller-manager.log'),
        ),
      );
      progress('kube-scheduler', 'starting');
      daemons.push(
        startDaemon(
          'kube-scheduler',
          bin('kube-scheduler'),
          [`--kubeconfig=${kubeconfig}`, '--bind-address=127.0.0.1', '--secure-port=0', '--leader-elect=false', '--v=0'],
          path.join(dir, 'kube-scheduler.log'),
        ),
      );
      progress('kwok', 'starting');
      // Container logs are served by kwok from files its Logs objects name (see pod-logs.ts);
      // the Nodes advertise kwok's server port, so the API server proxies `pods/log` to it.
      await installKwokLogCrds(kubeConfig());
      const kwokPort = await freePort();
      daemons.push(
        startDaemon(
          'kwok',
          bin('kwok'),
          [
            `--kubeconfig=${kubeconfig}`,
            '--manage-all-nodes=false',
            // A label, not an annotation: a Node that gains it later is picked up too (the
            // label-selected watch reports it as added), which deploy_node relies on.
            '--manage-nodes-with-label-selector=kwok.x-k8s.io/node=fake',
            '--cidr=10.244.0.0/16',
            '--node-ip=127.0.0.1',
            `--server-address=127.0.0.1:${kwokPort}`,
            `--node-port=${kwokPort}`,
            `--enable-crds=${KWOK_LOG_KINDS.join(',')}`,
            '--node-lease-duration-seconds=40',
          ],
          path.join(dir, 'kwok.log'),
        ),
      );
      const core = kubeConfig().makeApiClient(CoreV1Api);
      await waitFor(
        'the default ServiceAccount (kube-controller-manager)',
        async () => {
          try {
            await core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' });
            return true;
          } catch {
            return false;
          }
        },
        daemons,
        120_000,
        options.signal,
      );
      progress('kube-controller-manager', 'ready');
    }

    const mintToken = (namespace: string, serviceAccount: string, opts: MintTokenOptions = {}): Promise<string> =>
      mintServiceAccountToken(kubeConfig(), namespace, serviceAccount, opts);

    const issue = async (name: string, names: readonly string[]): Promise<{ cert: string; key: string }> => {
      const files = await issueServerCertificate(path.join(dir, 'pki'), { cert: pki.caCert, key: pki.caKey }, name, names);
      return { cert: await readFile(files.cert, 'utf8'), key: await readFile(files.key, 'utf8') };
    };

    return {
      server,
      kubeconfigPath: kubeconfig,
      kubeconfigYaml,
      caCert: ca,
      dir,
      version: KUBERNETES_VERSION,
      kubeConfig,
      issueServerCertificate: issue,
      mintToken,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * Mints a bearer token for a ServiceAccount through the TokenRequest API, creating the
 * namespace and the ServiceAccount when missing (unless `create: false`).
 *
 * @example
 * ```ts
 * const token = await mintServiceAccountToken(kc, 'kube-system', 'sdk');
 * // user name: system:serviceaccount:kube-system:sdk
 * ```
 */
export async function mintServiceAccountToken(
  kc: KubeConfig,
  namespace: string,
  serviceAccount: string,
  options: MintTokenOptions = {},
): Promise<string> {
  const core = kc.makeApiClient(CoreV1Api);
  if (options.create !== false) {
    await core.createNamespace({ body: { metadata: { name: namespace } } }).catch(ignoreConflict);
    await core
      .createNamespacedServiceAccount({ namespace, body: { metadata: { name: serviceAccount, namespace } } })
      .catch(ignoreConflict);
  }
  const res = await core.createNamespacedServiceAccountToken({
    name: serviceAccount,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: options.expirationSeconds ?? 3600 } },
  });
  const token = res.status?.token;
  if (!token) throw new ClusterError('TOKEN_REQUEST_FAILED', `no token returned for ${namespace}/${serviceAccount}`);
  return token;
}

function ignoreConflict(err: unknown): void {
  const code = (err as { code?: number }).code;
  if (code !== 409) throw err;
}

/**
 * A random lowercase suffix for names that must not collide between tests.
 *
 * @example
 * ```ts
 * const namespace = `acme-test-${uniqueSuffix()}`;
 * ```
 */
export function uniqueSuffix(): string {
  return randomBytes(4).toString('hex');
}
