/**
 * Container logs in the test control plane: kwok plays the kubelet's `/containerLogs` endpoint
 * from files named by its `Logs` objects (kwok.x-k8s.io/v1alpha1), so `kubectl logs` and the
 * SDK read logs through the real API server. The CRDs are kwok's own kinds, written here with an
 * open schema (kwok reads them with its typed client).
 *
 * @module
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { kubeFailure, kubeRequest } from '../_kube.js';

/** The kinds kwok serves logs from, enabled with `--enable-crds`. */
export const KWOK_LOG_KINDS = ['Logs', 'ClusterLogs'] as const;

function crd(kind: string, plural: string, scope: 'Namespaced' | 'Cluster'): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.kwok.x-k8s.io` },
    spec: {
      group: 'kwok.x-k8s.io',
      names: { kind, listKind: `${kind}List`, plural, singular: plural === 'logs' ? 'logs' : 'clusterlogs' },
      scope,
      versions: [
        {
          name: 'v1alpha1',
          served: true,
          storage: true,
          subresources: { status: {} },
          schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
        },
      ],
    },
  };
}

/** Creates kwok's Logs and ClusterLogs CRDs and waits until they are served. */
export async function installKwokLogCrds(kc: KubeConfig): Promise<void> {
  for (const body of [crd('Logs', 'logs', 'Namespaced'), crd('ClusterLogs', 'clusterlogs', 'Cluster')]) {
    const res = await kubeRequest(kc, 'POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', body);
    if (res.status >= 300 && res.status !== 409) throw kubeFailure('create the kwok Logs CRDs', res);
  }
  for (let i = 0; ; i++) {
    const res = await kubeRequest(kc, 'GET', '/apis/kwok.x-k8s.io/v1alpha1');
    const kinds = ((res.json as { resources?: { kind: string }[] } | undefined)?.resources ?? []).map((r) => r.kind);
    if (res.status === 200 && KWOK_LOG_KINDS.every((k) => kinds.includes(k))) return;
    if (i > 200) throw kubeFailure('wait for the kwok Logs CRDs', res);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Options of {@link setPodLogs}. */
export interface SetPodLogsOptions {
  readonly namespace: string;
  readonly pod: string;
  /** Lines per container name. */
  readonly containers: Readonly<Record<string, readonly string[]>>;
  /** Lines of the previous instance of each container (`--previous`). @default none */
  readonly previous?: Readonly<Record<string, readonly string[]>> | undefined;
  /** Where the log files go. */
  readonly dir: string;
  /** Time of the first line; one millisecond between lines. @default now minus one second per line */
  readonly start?: Date | undefined;
  /** Let `follow` keep reading the file (append with {@link appendPodLog}). @default true */
  readonly follow?: boolean | undefined;
}

function criLines(lines: readonly string[], start: Date): string {
  return lines.map((l, i) => `${new Date(start.getTime() + i).toISOString().replace('Z', '000000Z')} stdout F ${l}\n`).join('');
}

/** Options of {@link podLogFile}. */
export interface PodLogFileOptions {
  /** The log of the container's previous run (`kubectl logs --previous`). @default false */
  readonly previous?: boolean | undefined;
}

/** The file kwok reads a container's log from. */
export function podLogFile(dir: string, namespace: string, pod: string, container: string, options: PodLogFileOptions = {}): string {
  const { previous = false } = options;
  return join(dir, `${namespace}_${pod}_${container}${previous ? '.previous' : ''}.log`);
}

/**
 * Writes container logs (CRI log format, as the kubelet reads them) and the kwok `Logs` object
 * naming them, so `GET /api/v1/namespaces/<ns>/pods/<pod>/log` answers them.
 *
 * @example
 * ```ts
 * await setPodLogs(kc, { namespace: 'zenko-prod', pod, containers: { 'zenko-operator': ['started'] }, dir });
 * ```
 */
export async function setPodLogs(kc: KubeConfig, options: SetPodLogsOptions): Promise<void> {
  await mkdir(options.dir, { recursive: true });
  const logs: Record<string, unknown>[] = [];
  for (const [container, lines] of Object.entries(options.containers)) {
    const start = options.start ?? new Date(Date.now() - 1000 * lines.length);
    const file = podLogFile(options.dir, options.namespace, options.pod, container);
    await writeFile(`${file}.tmp`, criLines(lines, start));
    await rename(`${file}.tmp`, file);
    const entry: Record<string, unknown> = { containers: [container], logsFile: file, follow: options.follow ?? true };
    const prev = options.previous?.[container];
    if (prev) {
      const pf = podLogFile(options.dir, options.namespace, options.pod, container, { previous: true });
      await writeFile(pf, criLines(prev, new Date(start.getTime() - 3_600_000)));
      entry.previousLogsFile = pf;
    }
    logs.push(entry);
  }
  const body = { apiVersion: 'kwok.x-k8s.io/v1alpha1', kind: 'Logs', metadata: { name: options.pod, namespace: options.namespace }, spec: { logs } };
  const path = `/apis/kwok.x-k8s.io/v1alpha1/namespaces/${options.namespace}/logs/${options.pod}`;
  const res = await kubeRequest(kc, 'PATCH', `${path}?fieldManager=metalk8s-sdk-testing&force=true`, body, 'application/apply-patch+yaml');
  if (res.status >= 300) throw kubeFailure(`set the logs of pod ${options.namespace}/${options.pod}`, res);
}

/** Appends lines to a container's log file (seen by `follow`). */
export async function appendPodLog(dir: string, namespace: string, pod: string, container: string, lines: readonly string[]): Promise<void> {
  const { appendFile } = await import('node:fs/promises');
  await appendFile(podLogFile(dir, namespace, pod, container), criLines(lines, new Date()));
}
