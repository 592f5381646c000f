/**
 * The Node object as MetalK8s' UI creates it (platform-reference.md §B.1), and reading a Node
 * back: roles, versions, conditions, and the deploy job the SDK records on it. Pure: no I/O.
 */
import { ClusterError } from '../errors.js';

/** A role as MetalK8s' UI offers it. */
export type NodeRole = 'control-plane' | 'workload' | 'infra';

/** Roles as MetalK8s stores them (`node-role.kubernetes.io/<role>` labels). */
export type MetalK8sRole = 'master' | 'etcd' | 'node' | 'infra' | 'bootstrap';

export const VERSION_LABEL = 'metalk8s.scality.com/version';
export const NAME_LABEL = 'metalk8s.scality.com/name';
export const ROLE_PREFIX = 'node-role.kubernetes.io/';
export const CLUSTER_VERSION_ANNOTATION = 'metalk8s.scality.com/cluster-version';
export const SSH_PREFIX = 'metalk8s.scality.com/ssh-';
/** Annotations the SDK writes on a Node to record its deploy job (read back by every client). */
export const DEPLOY_JOB_ANNOTATION = 'solution-sdk.metalk8s.scality.com/deploy-jid';
export const DEPLOY_STARTED_ANNOTATION = 'solution-sdk.metalk8s.scality.com/deploy-started';
export const DEPLOY_RESULT_ANNOTATION = 'solution-sdk.metalk8s.scality.com/deploy-result';
/** The `deploy-jid` value while a client is starting the job (it then writes the jid). */
export const DEPLOY_PENDING_PREFIX = 'starting:';
/** Where MetalK8s' UI and docs keep the salt-ssh key. */
export const DEFAULT_SSH_KEY_PATH = '/etc/metalk8s/pki/salt-bootstrap';

/** SSH access a Node's annotations give to salt-ssh (MetalK8s' roster). */
export interface NodeSsh {
  /** Host name or IP address salt-ssh connects to. */
  readonly host: string;
  /** @default 22 */
  readonly port?: number | undefined;
  /** User salt-ssh logs in as. @default 'root' */
  readonly user?: string | undefined;
  /** Private key path on the bootstrap node. @default '/etc/metalk8s/pki/salt-bootstrap' */
  readonly keyPath?: string | undefined;
  /** Run commands through sudo (needed when `user` is not root). @default false */
  readonly sudo?: boolean | undefined;
}

/** What {@link nodeManifest} needs. */
export interface NodeDeclaration {
  readonly name: string;
  readonly roles: readonly NodeRole[];
  readonly ssh: NodeSsh;
  /** Extra labels (e.g. topology). */
  readonly labels?: Readonly<Record<string, string>> | undefined;
  /** Display name, the `metalk8s.scality.com/name` label the UI shows. */
  readonly displayName?: string | undefined;
}

/** A Node body as sent to the API server. */
export interface NodeManifest {
  readonly apiVersion: 'v1';
  readonly kind: 'Node';
  readonly metadata: { readonly name: string; readonly labels: Record<string, string>; readonly annotations: Record<string, string> };
  readonly spec?: { readonly taints: readonly { readonly key: string; readonly effect: 'NoSchedule' }[] };
}

const ROLES: readonly NodeRole[] = ['control-plane', 'workload', 'infra'];
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/**
 * MetalK8s' role map (`roleTaintMap` in ui/src/ducks/app/nodes.ts): the roles ticked in the UI
 * give these labels and taints.
 */
export function roleLabelsAndTaints(roles: readonly NodeRole[]): { labels: MetalK8sRole[]; taints: MetalK8sRole[] } {
  const cp = roles.includes('control-plane');
  const wp = roles.includes('workload');
  const infra = roles.includes('infra');
  if (cp && wp && infra) return { labels: ['etcd', 'master', 'infra'], taints: [] };
  if (cp && infra) return { labels: ['etcd', 'master', 'infra'], taints: ['infra'] };
  if (cp && wp) return { labels: ['etcd', 'master', 'node'], taints: [] };
  if (wp && infra) return { labels: ['infra'], taints: [] };
  if (cp) return { labels: ['master', 'etcd'], taints: ['master', 'etcd'] };
  if (infra) return { labels: ['infra'], taints: ['infra'] };
  return { labels: ['node'], taints: [] };
}

function invalid(field: string, message: string, hint: string): ClusterError {
  return new ClusterError('NODE_DECLARATION_INVALID', `${field}: ${message}`, { hint });
}

/**
 * The Node object MetalK8s' UI POSTs for these roles and SSH settings, field by field (§B.1),
 * with one deliberate difference: `ssh-sudo` is written only when sudo is wanted, because the
 * roster reads any non-empty string, `"false"` included, as true.
 *
 * @throws `NODE_DECLARATION_INVALID` naming the field.
 */
export function nodeManifest(decl: NodeDeclaration, clusterVersion: string): NodeManifest {
  if (!DNS_SUBDOMAIN.test(decl.name) || decl.name.length > 253) {
    throw invalid('name', `"${decl.name}" is not a valid Node name (lowercase DNS subdomain)`, 'Use the host name MetalK8s should know the node by: it is also its Salt minion id.');
  }
  if (decl.roles.length === 0) throw invalid('roles', 'no role given', `Give at least one of ${ROLES.join(', ')} (the UI also requires one).`);
  for (const r of decl.roles) if (!ROLES.includes(r)) throw invalid('roles', `unknown role "${r}"`, `Roles are ${ROLES.join(', ')}.`);
  if (!decl.ssh.host) throw invalid('ssh.host', 'empty', 'Give the host name or IP address the bootstrap node reaches the new node by.');
  const port = decl.ssh.port ?? 22;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalid('ssh.port', `${port} is not a TCP port`, 'Use 1-65535.');
  const user = decl.ssh.user ?? 'root';
  if (!/^[A-Za-z0-9._][A-Za-z0-9._-]*$/.test(user)) throw invalid('ssh.user', `"${user}" is not a user name`, 'Use the login name on the new node.');
  const keyPath = decl.ssh.keyPath ?? DEFAULT_SSH_KEY_PATH;
  if (!keyPath.startsWith('/')) throw invalid('ssh.keyPath', `"${keyPath}" is not absolute`, 'Give the key path on the bootstrap node, e.g. /etc/metalk8s/pki/salt-bootstrap.');
  if (user !== 'root' && decl.ssh.sudo !== true) {
    throw invalid('ssh.sudo', `user "${user}" is not root and sudo is off: salt-ssh could not install anything`, 'Set ssh.sudo: true, or log in as root.');
  }
  const { labels: roleLabels, taints } = roleLabelsAndTaints(decl.roles);
  const labels: Record<string, string> = { [VERSION_LABEL]: clusterVersion };
  for (const r of roleLabels) labels[`${ROLE_PREFIX}${r}`] = '';
  for (const [k, v] of Object.entries(decl.labels ?? {})) {
    if (k.startsWith(ROLE_PREFIX) || k === VERSION_LABEL) throw invalid(`labels.${k}`, 'is set by MetalK8s from the roles and version', 'Use roles instead.');
    if (!LABEL_VALUE.test(v) || v.length > 63) throw invalid(`labels.${k}`, `"${v}" is not a label value`, 'At most 63 characters: letters, digits, "-", "_", "."; alphanumeric at both ends.');
    labels[k] = v;
  }
  if (decl.displayName !== undefined) {
    if (!LABEL_VALUE.test(decl.displayName) || decl.displayName.length > 63) {
      throw invalid('displayName', `"${decl.displayName}" cannot be a label value`, 'At most 63 characters: letters, digits, "-", "_", "."; alphanumeric at both ends.');
    }
    labels[NAME_LABEL] = decl.displayName;
  }
  const annotations: Record<string, string> = {
    [`${SSH_PREFIX}user`]: user,
    [`${SSH_PREFIX}port`]: String(port),
    [`${SSH_PREFIX}host`]: decl.ssh.host,
    [`${SSH_PREFIX}key-path`]: keyPath,
  };
  if (decl.ssh.sudo === true) annotations[`${SSH_PREFIX}sudo`] = 'true';
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: decl.name, labels, annotations },
    ...(taints.length > 0 ? { spec: { taints: taints.map((t) => ({ key: `${ROLE_PREFIX}${t}`, effect: 'NoSchedule' as const })) } } : {}),
  };
}

/** A Node as the API server returns it (the fields read here). */
export interface NodeObject {
  metadata: {
    name: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    creationTimestamp?: string;
  };
  spec?: { unschedulable?: boolean; taints?: { key: string; value?: string; effect: string }[] };
  status?: {
    conditions?: { type: string; status: string; reason?: string; message?: string; lastTransitionTime?: string }[];
    addresses?: { type: string; address: string }[];
  };
}

/** Where a Node is in its life. */
export type DeployState =
  | { readonly state: 'declared' }
  | { readonly state: 'deploying'; readonly jid: string | undefined; readonly since: string | undefined }
  | { readonly state: 'deployed' }
  | { readonly state: 'failed'; readonly jid: string | undefined; readonly step: string; readonly comment: string };

/** The MetalK8s roles of a Node, from its labels. */
export function nodeRoles(node: NodeObject): MetalK8sRole[] {
  const all: MetalK8sRole[] = ['bootstrap', 'master', 'etcd', 'node', 'infra'];
  return all.filter((r) => node.metadata.labels?.[`${ROLE_PREFIX}${r}`] !== undefined);
}

/** Whether the Node's Ready condition is True. */
export function isNodeReady(node: NodeObject): boolean {
  return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}

/** A failed deploy as recorded in the result annotation: `failed:<step>:<comment>`. */
export function encodeDeployResult(r: { ok: true } | { ok: false; step: string; comment: string }): string {
  return r.ok ? 'succeeded' : `failed:${JSON.stringify({ step: r.step, comment: r.comment.slice(0, 2000) })}`;
}

/** Reads the deploy state of a Node from its annotations, conditions and addresses. */
export function deployState(node: NodeObject): DeployState {
  const a = node.metadata.annotations ?? {};
  const jid = a[DEPLOY_JOB_ANNOTATION];
  const result = a[DEPLOY_RESULT_ANNOTATION];
  if (jid !== undefined && result === undefined) {
    return { state: 'deploying', jid: jid.startsWith(DEPLOY_PENDING_PREFIX) ? undefined : jid, since: a[DEPLOY_STARTED_ANNOTATION] };
  }
  if (result?.startsWith('failed:')) {
    try {
      const r = JSON.parse(result.slice('failed:'.length)) as { step?: string; comment?: string };
      return { state: 'failed', jid, step: r.step ?? '?', comment: r.comment ?? '' };
    } catch {
      return { state: 'failed', jid, step: '?', comment: result };
    }
  }
  const ready = node.status?.conditions?.some((c) => c.type === 'Ready' && c.status !== 'Unknown') === true;
  const hasIp = node.status?.addresses?.some((x) => x.type === 'InternalIP') === true;
  // MetalK8s' UI offers "Deploy" only while Ready is Unknown or absent and there is no InternalIP.
  return ready || hasIp ? { state: 'deployed' } : { state: 'declared' };
}

/** IPv4 CIDR membership (MetalK8s networks are IPv4). */
export function inCidr(ip: string, cidr: string): boolean {
  const [base = '', bitsText = '32'] = cidr.split('/');
  const bits = Number(bitsText);
  const a = ipv4(ip);
  const b = ipv4(base);
  if (a === undefined || b === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) return false;
  if (bits === 0) return true;
  const mask = (0xffffffff << (32 - bits)) >>> 0;
  return (a & mask) === (b & mask);
}

function ipv4(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

/** Whether the CIDR `inner` lies inside `outer`. */
export function cidrInside(inner: string, outer: string): boolean {
  const [base = '', bits = '32'] = inner.split('/');
  const [, outerBits = '32'] = outer.split('/');
  return Number(bits) >= Number(outerBits) && inCidr(base, outer);
}
