/**
 * A Node as the node verbs read and report it: {@link NodeInfo} read from a Node object, the
 * progress events and options every node verb takes, and reading one Node from the Kubernetes API.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { DrainProgressEvent } from './_drain.js';
import { kubeGet } from '../_kube.js';
import type { LifecycleContext } from './_lifecycle.js';
import { type DeployState, deployState, isNodeReady, type MetalK8sRole, NAME_LABEL, type NodeObject, nodeRoles, SSH_PREFIX, VERSION_LABEL } from './_node-model.js';
import type { PreflightCheck } from './_preflight.js';

/** Progress of a node verb. */
export type NodeProgressEvent =
  | { readonly type: 'step'; readonly step: string; readonly status: 'started' | 'done' | 'skipped'; readonly detail?: string | undefined }
  | { readonly type: 'salt-job'; readonly step: string; readonly jid: string; readonly followed: boolean }
  | {
      readonly type: 'deploy-step';
      readonly jid: string;
      /** `__run_num__` of the state in the orchestrate. */
      readonly index: number;
      /** State ID, e.g. `Run the highstate`. */
      readonly id: string;
      readonly result: boolean | null;
      readonly comment: string;
    }
  | {
      /** A minion job a deploy step started on the node (live, from the SaltAPI event stream). */
      readonly type: 'salt-activity';
      readonly jid: string;
      /** Execution function, e.g. `state.sls`, `state.highstate`, `saltutil.sync_all`. */
      readonly fun: string;
      readonly args: readonly string[];
      /** `started`, then `succeeded` or `failed`. */
      readonly status: 'started' | 'succeeded' | 'failed';
    }
  | { readonly type: 'check'; readonly check: PreflightCheck }
  | { readonly type: 'warning'; readonly message: string }
  | { readonly type: 'waiting'; readonly what: string; readonly elapsedMs: number }
  | DrainProgressEvent;

/** Options every node verb takes. */
export interface NodeCallOptions {
  readonly signal?: AbortSignal | undefined;
  readonly onProgress?: ((event: NodeProgressEvent) => void) | undefined;
}

/** A Node as {@link NodesApi.list} describes it. */
export interface NodeInfo {
  readonly name: string;
  /** The `metalk8s.scality.com/name` label, when set. */
  readonly displayName: string | undefined;
  readonly roles: readonly MetalK8sRole[];
  /** The `metalk8s.scality.com/version` label: the saltenv deploy_node uses for the node. */
  readonly version: string | undefined;
  readonly ready: boolean;
  readonly schedulable: boolean;
  readonly conditions: readonly { readonly type: string; readonly status: string; readonly reason?: string | undefined; readonly message?: string | undefined }[];
  /** Addresses by type (`InternalIP`, `Hostname`, …). */
  readonly addresses: Readonly<Record<string, string>>;
  readonly ssh: { readonly host: string | undefined; readonly port: number; readonly user: string; readonly keyPath: string | undefined; readonly sudo: boolean };
  readonly deploy: DeployState;
}

export const nodePath = (name: string): string => `/api/v1/nodes/${encodeURIComponent(name)}`;

/** The Node `name`, or undefined. */
export async function getNode(kc: KubeConfig, name: string, signal?: AbortSignal): Promise<NodeObject | undefined> {
  return kubeGet<NodeObject>(kc, nodePath(name), signal);
}

/** The MetalK8s version of the cluster: its saltenv without the `metalk8s-` prefix. */
export function clusterVersion(ctx: LifecycleContext): string {
  return ctx.saltenv.replace(/^metalk8s-/, '');
}

/** A Node object as {@link NodeInfo} describes it. */
export function nodeInfo(node: NodeObject): NodeInfo {
  const a = node.metadata.annotations ?? {};
  const addresses: Record<string, string> = {};
  for (const x of node.status?.addresses ?? []) addresses[x.type] ??= x.address;
  return {
    name: node.metadata.name,
    displayName: node.metadata.labels?.[NAME_LABEL],
    roles: nodeRoles(node),
    version: node.metadata.labels?.[VERSION_LABEL],
    ready: isNodeReady(node),
    schedulable: node.spec?.unschedulable !== true,
    conditions: (node.status?.conditions ?? []).map((c) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message })),
    addresses,
    ssh: {
      host: a[`${SSH_PREFIX}host`],
      port: Number(a[`${SSH_PREFIX}port`] ?? 22) || 22,
      user: a[`${SSH_PREFIX}user`] || 'root',
      keyPath: a[`${SSH_PREFIX}key-path`],
      // As MetalK8s' roster reads it: any non-empty string means sudo.
      sudo: (a[`${SSH_PREFIX}sudo`] ?? '') !== '',
    },
    deploy: deployState(node),
  };
}
