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
import { deployNode } from './_deploy-node.js';
import { startVolumeController } from './_volume-controller.js';
import { type Monitoring, type MonitoringOptions, publishControlPlaneIngress, startMonitoring } from './_monitoring.js';
import { applyObjects, metalk8sBaseObjects } from './metalk8s-objects.js';
import { type OrchestrateHandler, startSaltApiEmulator } from './salt-api-emulator.js';
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
   * Reconcile `Volume` objects into PersistentVolumes, as MetalK8s' storage-operator does.
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
  /** Admin kubeconfig text. */
  readonly kubeconfig: string;
  readonly saltApi: EmulatedSaltApi;
  /** `http://127.0.0.1:<port>`: the `repositories` registry serving imported Solutions' images. */
  readonly registryUrl: string;
  /** The bootstrap node's files (see {@link StartMetalK8sOptions.stateDir}). */
  readonly stateDir: string;
  /** The control plane, when the emulator started it. */
  readonly controlPlane: ControlPlane | undefined;
  /** The MetalK8s version played, `major.minor.patch`. */
  readonly metalk8sVersion: string;
  /** The monitoring stack, when `monitoring` was asked for. */
  readonly monitoring: EmulatedMonitoring | undefined;
  /** Stops the SaltAPI and (when it started it) the control plane. */
  stop(): Promise<void>;
}

/** The emulator's monitoring stack (see {@link StartMetalK8sOptions.monitoring}). */
export type EmulatedMonitoring = Monitoring;
export type { LokiReplay, LokiStream, Monitoring, MonitoringOptions } from './_monitoring.js';

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
 *   // connect with mk8s.kubeconfig and mk8s.saltApi
 * } finally {
 *   await mk8s.stop();
 * }
 * ```
 */
export async function startMetalK8s(options: StartMetalK8sOptions = {}): Promise<MetalK8sEmulator> {
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
    await applyObjects(kc, metalk8sBaseObjects({ clusterVersion: metalk8sVersion }));
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
    const salt = await startSaltApiEmulator({
      kubeConfig: kc,
      fileRoots: options.fileRoots,
      minionFunctions: solutions.minionFunctions,
      // MetalK8s' own orchestrates; the caller's may replace them.
      orchestrates: { 'metalk8s.orchestrate.deploy_node': deployNode, ...solutions.orchestrates, ...options.orchestrates },
      port: options.saltApiPort,
      tls,
    });
    restartSaltApi = () => void salt.revokeTokens();
    const volumes = options.storageOperator === false ? undefined : startVolumeController(kc);
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
      }).catch(async (err: unknown) => {
        await volumes?.stop();
        await salt.stop();
        throw err;
      });
      monitoring = started;
      cleanups.push(() => started.stop());
      // On its own control plane, the emulator says where its ingress is, as MetalK8s does; a
      // shared control plane is left alone (other emulators may use it).
      if (controlPlane) {
        await publishControlPlaneIngress(kc, started.ingressUrl).catch(async (err: unknown) => {
          await volumes?.stop();
          await salt.stop();
          throw err;
        });
      }
    }
    return {
      kubeconfig,
      metalk8sVersion,
      registryUrl: solutions.registryUrl,
      stateDir,
      controlPlane,
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
        await volumes?.stop();
        await salt.stop();
        for (const c of cleanups.reverse()) await c();
        await controlPlane?.stop();
      },
    };
  } catch (err) {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    await controlPlane?.stop();
    throw err;
  }
}
