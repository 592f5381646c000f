/**
 * `cluster.dashboards`: the Grafana dashboards MetalK8s' Grafana sidecar loads, read from the
 * ConfigMaps and Secrets labelled `grafana_dashboard: "1"` in every namespace, with the folder
 * annotation and the Solution version that shipped each (metalk8s-reference.md §5.3). Nothing
 * is written through Grafana's HTTP API: its storage is an emptyDir (platform-reference.md §0.1).
 *
 * @module
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { kubeGet } from './_kube.js';

/** Label the Grafana sidecar selects dashboards with. */
export const GRAFANA_DASHBOARD_LABEL = 'grafana_dashboard';
/** Annotation naming the Grafana folder of a dashboard. */
export const GRAFANA_FOLDER_ANNOTATION = 'metalk8s.scality.com/grafana-folder-name';

/** One dashboard as Grafana will load it. */
export interface DashboardInfo {
  /** `uid` of the dashboard JSON, when it has one. */
  readonly uid: string | undefined;
  readonly title: string | undefined;
  /** Grafana folder (the annotation), or undefined for Grafana's General folder. */
  readonly folder: string | undefined;
  /** Where it comes from: `ConfigMap <ns>/<name>` or `Secret <ns>/<name>`, and its key. */
  readonly source: { readonly kind: 'ConfigMap' | 'Secret'; readonly namespace: string; readonly name: string; readonly key: string };
  /** Solution and version from the ownership labels, when a Solution shipped it. */
  readonly solution: { readonly name: string; readonly version: string | undefined } | undefined;
  readonly tags: readonly string[];
  /** Why Grafana will not load it (the key is not valid JSON), when it will not. */
  readonly problem: string | undefined;
}

/** Options of {@link DashboardsApi.list}. */
export interface ListDashboardsOptions {
  /** Only the dashboards of this Solution. @default all */
  readonly solution?: string | undefined;
  readonly signal?: AbortSignal | undefined;
}

type Holder = { metadata: { name: string; namespace: string; labels?: Record<string, string>; annotations?: Record<string, string> }; data?: Record<string, string> | null };

/** Dashboards of a cluster. Get it from `connect()` as `cluster.dashboards`. */
export class DashboardsApi {
  readonly #kc: KubeConfig;

  /** @internal */
  constructor(kc: KubeConfig) {
    this.#kc = kc;
  }

  /**
   * Every dashboard the Grafana sidecar loads, sorted by folder then title.
   *
   * @example
   * ```ts
   * for (const d of await cluster.dashboards.list({ solution: 'zenko' })) console.log(d.folder, d.title, d.solution?.version);
   * ```
   */
  async list(options: ListDashboardsOptions = {}): Promise<readonly DashboardInfo[]> {
    const sel = encodeURIComponent(`${GRAFANA_DASHBOARD_LABEL}=1${options.solution ? `,app.kubernetes.io/part-of=${options.solution}` : ''}`);
    const out: DashboardInfo[] = [];
    for (const kind of ['ConfigMap', 'Secret'] as const) {
      const list = await kubeGet<{ items: Holder[] }>(this.#kc, `/api/v1/${kind === 'ConfigMap' ? 'configmaps' : 'secrets'}?labelSelector=${sel}`, options.signal);
      for (const obj of list?.items ?? []) {
        const labels = obj.metadata.labels ?? {};
        const partOf = labels['app.kubernetes.io/part-of'];
        for (const [key, raw] of Object.entries(obj.data ?? {})) {
          const text = kind === 'Secret' ? Buffer.from(raw, 'base64').toString('utf8') : raw;
          let model: { uid?: unknown; title?: unknown; tags?: unknown } | undefined;
          let problem: string | undefined;
          try {
            model = JSON.parse(text) as typeof model;
          } catch (err) {
            problem = `key ${key} is not JSON: ${(err as Error).message}`;
          }
          out.push({
            uid: typeof model?.uid === 'string' ? model.uid : undefined,
            title: typeof model?.title === 'string' ? model.title : undefined,
            folder: obj.metadata.annotations?.[GRAFANA_FOLDER_ANNOTATION],
            source: { kind, namespace: obj.metadata.namespace, name: obj.metadata.name, key },
            solution: partOf ? { name: partOf, version: labels['app.kubernetes.io/version'] } : undefined,
            tags: Array.isArray(model?.tags) ? model.tags.filter((t): t is string => typeof t === 'string') : [],
            problem,
          });
        }
      }
    }
    return out.sort((a, b) => ((a.folder ?? '') + (a.title ?? '') < (b.folder ?? '') + (b.title ?? '') ? -1 : 1));
  }
}
