/**
 * `connectPlatform()`: the platform services of a MetalK8s cluster (metrics, alerts, logs,
 * dashboards, health) from a kubeconfig alone, without the SaltAPI that `connect()` logs in to.
 * `connect()` gives the same objects on its `Cluster`.
 *
 * @module
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { serviceClients, type ServicesOptions } from './_service-http.js';
import { AlertsApi } from './alerts.js';
import { DashboardsApi } from './dashboards.js';
import { type HealthOptions, type HealthReport, solutionHealth } from './health.js';
import { LogsApi } from './logs.js';
import { MetricsApi } from './metrics.js';

/** Where the kubeconfig comes from (shared by `connect()` and {@link connectPlatform}). */
export interface KubeconfigSource {
  /** Kubeconfig text (YAML), e.g. read from a Secret. */
  readonly kubeconfigYaml?: string | undefined;
  /** Kubeconfig file. @default `KUBECONFIG`, else `~/.kube/config` */
  readonly kubeconfigPath?: string | undefined;
  /** Use the Pod's ServiceAccount. @default false */
  readonly inCluster?: boolean | undefined;
}

/** Options of {@link connectPlatform}. */
export interface ConnectPlatformOptions extends KubeconfigSource {
  /**
   * How to reach Prometheus, Alertmanager and Loki.
   * @default the control-plane ingress found in the ClusterConfig, else the API server's service proxy
   */
  readonly services?: ServicesOptions | undefined;
}

/** The platform services of a cluster. */
export interface PlatformServices {
  readonly kubeConfig: KubeConfig;
  /** Prometheus (through Thanos): queries, rules, alerts, targets. */
  readonly metrics: MetricsApi;
  /** Alertmanager: alerts, silences, maintenance windows. */
  readonly alerts: AlertsApi;
  /** Grafana dashboards (labelled ConfigMaps and Secrets). */
  readonly dashboards: DashboardsApi;
  /** Container logs through the API server, and Loki. */
  readonly logs: LogsApi;
  /**
   * One health report on a Solution in an environment: operator, custom resources, storage,
   * rules, alerts, targets.
   *
   * @example
   * ```ts
   * const report = await cluster.health('zenko', 'zenko-prod');
   * if (report.status !== 'healthy') console.log(report.checks.filter((c) => c.status !== 'ok'));
   * ```
   */
  health(name: string, environment: string, options?: HealthOptions): Promise<HealthReport>;
}

/** Loads a kubeconfig (the client library is loaded here, on first use: it is large). */
export async function loadKubeConfig(options: KubeconfigSource): Promise<KubeConfig> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  if (options.kubeconfigYaml !== undefined) kc.loadFromString(options.kubeconfigYaml);
  else if (options.inCluster) kc.loadFromCluster();
  else if (options.kubeconfigPath !== undefined) kc.loadFromFile(options.kubeconfigPath);
  else kc.loadFromDefault();
  return kc;
}

/** The platform-service objects for a loaded kubeconfig. */
export function platformServices(kc: KubeConfig, services: ServicesOptions | undefined): PlatformServices {
  const clients = serviceClients(kc, services);
  const metrics = new MetricsApi(clients.prometheus, kc);
  const alerts = new AlertsApi(clients.alertmanager, kc);
  return {
    kubeConfig: kc,
    metrics,
    alerts,
    dashboards: new DashboardsApi(kc),
    logs: new LogsApi(kc, clients.loki),
    health: (name, environment, opts = {}) => solutionHealth(kc, metrics, alerts, name, environment, opts),
  };
}

/**
 * The platform services from a kubeconfig alone: nothing is asked of the cluster until a call
 * is made, and no SaltAPI credential is needed.
 *
 * @example
 * ```ts
 * const platform = await connectPlatform({ kubeconfigPath: '/etc/kubernetes/admin.conf', services: { via: 'proxy' } });
 * const firing = await platform.alerts.list({ silenced: false });
 * ```
 */
export async function connectPlatform(options: ConnectPlatformOptions = {}): Promise<PlatformServices> {
  return platformServices(await loadKubeConfig(options), options.services);
}
