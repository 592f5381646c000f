/**
 * The MetalK8s emulator: a real Kubernetes control plane (see {@link startControlPlane}) with
 * the objects of an empty MetalK8s cluster, and the bootstrap node's SaltAPI (see
 * {@link startSaltApiEmulator}), so Solutions can be tested in CI without a MetalK8s cluster.
 *
 * What it reproduces and what it does not is listed in docs/emulator.md.
 *
 * @module
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { startSolutionsEmulator } from './_solutions.js';
import { type ControlPlane, type ControlPlaneProgressEvent, mintServiceAccountToken, startControlPlane } from './control-plane.js';
import { attachLoopDisks, type LoopDiskSpec, type LoopDisks, LoopDevicesUnavailableError, loopDevicesUnavailable } from './_storage-loop.js';
import { storageMinionFunctions } from './_storage-node.js';
import { startStorageOperator } from './_storage-operator.js';
import { type EmulatedNodes, type NodesEmulatorOptions, nodesEmulator } from './_nodes.js';
import { type Monitoring, type MonitoringOptions, publishControlPlaneIngress, startMonitoring } from './_monitoring.js';
import { applyObjects, metalk8sBaseObjects } from './metalk8s-objects.js';
import { type EmulatedMinionFunction, type OrchestrateHandler, startSaltApiEmulator } from './salt-api-emulator.js';
import { DEFAULT_METALK8S_VERSION, metalk8sFeatures } from '../solution/metalk8s-version.js';

/** Options of {@link startMetalK8s}. */
export interface StartMetalK8sOptions {
  /**
   * Use this cluster (admin kubeconfig text) instead of starting a control plane.
   * @default undefined (start one)
   */
  readonly kubeconfigYaml?: string | undefined;
  /**
   * The MetalK8s version the emulator plays: the version the cluster claims (kube-system
   * annotation, Node labels, saltenv `metalk8s-<version>`) and what its orchestrates write
   * (e.g. the operator metrics objects exist only from 130, reference §2.9, §8).
   * @default '129.0.0'
   */
  readonly metalk8sVersion?: string | undefined;
  /** @deprecated Use {@link StartMetalK8sOptions.metalk8sVersion}. */
  readonly clusterVersion?: string | undefined;
  /**
   * Directories searched for SLS files that `state.orchestrate` runs (made of `test.*` states).
   * @default []
   */
  readonly fileRoots?: readonly string[] | undefined;
  /**
   * Orchestrates played in code, by SLS name (see {@link OrchestrateHandler}).
   * @default {}
   */
  readonly orchestrates?: Readonly<Record<string, OrchestrateHandler>> | undefined;
  /**
   * Names of the workload Nodes (role `node`, simulated by kwok).
   * @default ['node-1']
   */
  readonly workloadNodes?: readonly string[] | undefined;
  /**
   * Real disks for the workload nodes: loop devices on sparse files, attached when the emulator
   * starts and detached by `stop()` (needs root and /dev/loop-control; it throws otherwise).
   * With it, the workload nodes are salt-minions whose storage functions run for real on their
   * own disks only, and storage-operator reconciles Volumes through Salt (docs/emulator.md).
   * @default undefined (no disks, no storage-operator)
   */
  readonly disks?: readonly LoopDiskSpec[] | undefined;
  /**
   * Run the emulated storage-operator (with `disks` only).
   * @default true
   */
  readonly storageOperator?: boolean | undefined;
  /**
   * Port of the SaltAPI on 127.0.0.1.
   * @default a free port
   */
  readonly saltApiPort?: number | undefined;
  /**
   * Directory of the bootstrap node's files: `/etc/metalk8s/solutions.yaml`, the "mounted"
   * Solution ISOs under `srv/scality/`, the `repositories` nginx configuration.
   * @default a new temporary directory, removed by `stop()`
   */
  readonly stateDir?: string | undefined;
  /**
   * The node lifecycle: the `networks` pillar, the time each deploy_node step takes.
   * @default control-plane and workload-plane networks 127.0.0.0/8, steps without delay
   */
  readonly nodes?: NodesEmulatorOptions | undefined;
  /**
   * Also run the monitoring stack: real Prometheus and Alertmanager behind real nginx playing
   * the control-plane ingress, PrometheusRules turned into rule files (see docs/emulator.md).
   * `true` for the defaults, or its settings.
   * @default false
   */
  readonly monitoring?: boolean | EmulatorMonitoringOptions | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly onProgress?: ((event: ControlPlaneProgressEvent) => void) | undefined;
}

/** Settings of the emulator's monitoring stack. */
export type EmulatorMonitoringOptions = Omit<MonitoringOptions, 'kubeConfig' | 'dir' | 'tls' | 'kubernetesUrl' | 'saltApiUrl'>;

/** Credentials of the emulated SaltAPI. */
export interface EmulatedSaltApi {
  readonly url: string;
  /** `system:serviceaccount:kube-system:metalk8s-sdk-admin`. */
  readonly username: string;
  /** A ServiceAccount token, accepted by the `kubernetes_rbac` login. */
  readonly token: string;
  /** PEM of the CA that signed the SaltAPI certificate, when it serves HTTPS. */
  readonly ca: string | undefined;
  /** Id of the salt-master (`<bootstrap>_master`): runner results are keyed by it. */
  readonly masterId: string;
  /** Forgets every SaltAPI token, as salt-api does when it restarts. */
  revokeTokens(): Promise<void>;
}

/** A running MetalK8s emulator. */
export interface MetalK8sEmulator {
  /** Admin kubeconfig text (YAML). */
  readonly kubeconfigYaml: string;
  readonly saltApi: EmulatedSaltApi;
  /** `http://127.0.0.1:<port>`: the `repositories` registry serving imported Solutions' images. */
  readonly registryUrl: string;
  /** The bootstrap node's files (see {@link StartMetalK8sOptions.stateDir}). */
  readonly stateDir: string;
  /** The control plane, when the emulator started it. */
  readonly controlPlane: ControlPlane | undefined;
  /** The workload nodes' test disks, when `disks` was given. */
  readonly disks: LoopDisks | undefined;
  /** Controls of the emulated node lifecycle (failure injection in deploy_node). */
  readonly nodes: EmulatedNodes;
  /** The MetalK8s version played, `major.minor.patch`. */
  readonly metalk8sVersion: string;
  /** The monitoring stack, when `monitoring` was asked for. */
  readonly monitoring: EmulatedMonitoring | undefined;
  /** Stops the SaltAPI and (when it started it) the control plane. */
  stop(): Promise<void>;
}

const STORAGE_TOOLS = ['lsblk', 'blkid', 'vgs', 'pvs', 'find', 'smartctl', 'wipefs', 'blockdev', 'udevadm'];

/** The minion functions of the other emulations, with the storage ones; `state.sls` goes by `mods`, `cmd.run_all` by command. */
function withStorage(
  base: Readonly<Record<string, EmulatedMinionFunction>>,
  storage: Readonly<Record<string, EmulatedMinionFunction>>,
): Record<string, EmulatedMinionFunction> {
  const out: Record<string, EmulatedMinionFunction> = { ...storage, ...base };
  const baseState = base['state.sls'];
  const storageState = storage['state.sls'];
  if (baseState && storageState) {
    out['state.sls'] = (call) => (String(call.kwarg.mods ?? call.arg[0] ?? '').startsWith('metalk8s.volumes') ? storageState(call) : baseState(call));
  }
  // Disk commands go to the node's storage; the rest (etcdctl…) to the node lifecycle emulation.
  const baseCmd = base['cmd.run_all'];
  const storageCmd = storage['cmd.run_all'];
  if (baseCmd && storageCmd) {
    out['cmd.run_all'] = (call) => {
      const tool = (String(call.arg[0] ?? call.kwarg.cmd ?? '').trim().split(/\s+/)[0] ?? '').split('/').pop() ?? '';
      return STORAGE_TOOLS.includes(tool) ? storageCmd(call) : baseCmd(call);
    };
  }
  return out;
}
/** The emulator's monitoring stack (see {@link StartMetalK8sOptions.monitoring}). */
export type EmulatedMonitoring = Monitoring;
export type { LokiReplay, LokiStream, Monitoring, MonitoringOptions, ScrapeTargetsOptions } from './_monitoring.js';

const ADMIN_SA = { namespace: 'kube-system', name: 'metalk8s-sdk-admin' } as const;

/**
 * Starts (or reuses) a control plane, gives it MetalK8s' base objects, and plays the
 * bootstrap node's SaltAPI.
 *
 * @example
 * ```ts
 * import { startMetalK8s } from 'metalk8s-solution-sdk/testing';
 *
 * const mk8s = await startMetalK8s();
 * try {
 *   // connect with mk8s.kubeconfigYaml and mk8s.saltApi
 * } finally {
 *   await mk8s.stop();
 * }
 * ```
 */
export async function startMetalK8s(options: StartMetalK8sOptions = {}): Promise<MetalK8sEmulator> {
  // Say at once, before a control plane starts, when the disks cannot be had here.
  const noLoop = options.disks !== undefined ? loopDevicesUnavailable() : undefined;
  if (noLoop) throw new LoopDevicesUnavailableError(noLoop);
  const metalk8sVersion = metalk8sFeatures(options.metalk8sVersion ?? options.clusterVersion ?? DEFAULT_METALK8S_VERSION).version;
  const controlPlane =
    options.kubeconfigYaml === undefined
      ? await startControlPlane({ signal: options.signal, onProgress: options.onProgress })
      : undefined;
  const cleanups: (() => Promise<void>)[] = [];
  try {
    const kubeconfig = controlPlane?.kubeconfigYaml ?? options.kubeconfigYaml ?? '';
    const kc = new KubeConfig();
    kc.loadFromString(kubeconfig);
    const workloadNodes = options.workloadNodes ?? ['node-1'];
    await applyObjects(kc, metalk8sBaseObjects({ clusterVersion: metalk8sVersion, workloadNodes }));
    const token = await mintServiceAccountToken(kc, ADMIN_SA.namespace, ADMIN_SA.name, { expirationSeconds: 86_400 });
    await kc
      .makeApiClient(RbacAuthorizationV1Api)
      .createClusterRoleBinding({
        body: {
          metadata: { name: 'metalk8s-sdk-admin' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
          subjects: [{ kind: 'ServiceAccount', name: ADMIN_SA.name, namespace: ADMIN_SA.namespace }],
        },
      })
      .catch((err: unknown) => {
        if ((err as { code?: number }).code !== 409) throw err;
      });
    // With its own control plane it has the cluster CA, and serves HTTPS like MetalK8s (§3.3).
    const tls = controlPlane
      ? await controlPlane.issueServerCertificate('salt-api', [
          'salt-master',
          'salt-master.kube-system',
          'salt-master.kube-system.svc',
          'localhost',
          '127.0.0.1',
        ])
      : undefined;
    const stateDir = options.stateDir ?? (await mkdtemp(join(tmpdir(), 'metalk8s-emulator-')));
    let restartSaltApi = (): void => {};
    const solutions = await startSolutionsEmulator({ kubeConfig: kc, stateDir, metalk8sVersion, onSaltMasterRestart: () => restartSaltApi() });
    cleanups.push(async () => {
      await solutions.stop();
      if (options.stateDir === undefined) await rm(stateDir, { recursive: true, force: true });
    });
    let disks: LoopDisks | undefined;
    // Storage runs wherever loop devices can be had: with `disks`, or for sparse Volumes alone.
    if (options.disks !== undefined || (options.storageOperator !== false && loopDevicesUnavailable() === undefined)) {
      const attached = await attachLoopDisks(options.disks ?? []);
      disks = attached;
      cleanups.push(() => attached.release());
    }
    const storageFunctions = disks ? storageMinionFunctions({ kubeConfig: kc, disks, stateDir }) : {};
    const nodes = nodesEmulator(options.nodes);
    const salt = await startSaltApiEmulator({
      kubeConfig: kc,
      fileRoots: options.fileRoots,
      minionFunctions: withStorage({ ...nodes.minionFunctions, ...solutions.minionFunctions }, storageFunctions),
      wheelFunctions: nodes.wheelFunctions,
      minions: options.disks !== undefined ? workloadNodes : [],
      // MetalK8s' own orchestrates; the caller's may replace them.
      orchestrates: { 'metalk8s.orchestrate.deploy_node': nodes.deployNode, ...solutions.orchestrates, ...options.orchestrates },
      port: options.saltApiPort,
      tls,
    });
    restartSaltApi = () => void salt.revokeTokens();
    cleanups.push(() => salt.stop());
    const volumes = disks && options.storageOperator !== false ? await startStorageOperator({ kubeConfig: kc, saltApiUrl: salt.url, ca: controlPlane?.caCert, nodes: () => salt.acceptedMinions().filter((m) => controlPlane !== undefined || m !== salt.masterId.replace(/_master$/, '')), onError: (volume, error) => { if (process.env.METALK8S_EMULATOR_DEBUG) process.stderr.write(`storage-operator: ${volume}: ${(error as Error).stack ?? String(error)}\n`); } }) : undefined;
    if (volumes) cleanups.push(() => volumes.stop());
    let monitoring: Monitoring | undefined;
    if (options.monitoring) {
      const settings = typeof options.monitoring === 'object' ? options.monitoring : {};
      const ingressTls = controlPlane ? await controlPlane.issueServerCertificate('cp-ingress', ['localhost', '127.0.0.1']) : undefined;
      const started = await startMonitoring({
        ...settings,
        kubeConfig: kc,
        dir: join(stateDir, 'monitoring'),
        tls: ingressTls,
        kubernetesUrl: controlPlane?.server,
        saltApiUrl: salt.url,
      });
      monitoring = started;
      cleanups.push(() => started.stop());
      // On its own control plane, the emulator says where its ingress is, as MetalK8s does; a
      // shared control plane is left alone (other emulators may use it).
      if (controlPlane) {
        await publishControlPlaneIngress(kc, started.ingressUrl);
      }
    }
    return {
      kubeconfigYaml: kubeconfig,
      metalk8sVersion,
      registryUrl: solutions.registryUrl,
      stateDir,
      controlPlane,
      disks,
      nodes: nodes.controls,
      monitoring,
      saltApi: {
        url: salt.url,
        username: `system:serviceaccount:${ADMIN_SA.namespace}:${ADMIN_SA.name}`,
        token,
        ca: controlPlane?.caCert,
        masterId: salt.masterId,
        revokeTokens: () => salt.revokeTokens(),
      },
      async stop() {
        const errors: unknown[] = [];
        for (const c of cleanups.reverse()) await c().catch((err: unknown) => errors.push(err));
        await controlPlane?.stop();
        if (errors.length > 0) throw errors[0];
      },
    };
  } catch (err) {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    await controlPlane?.stop();
    throw err;
  }
}
