/**
 * The one Kubernetes object type of the SDK: what `render()` produces, what the SDK applies,
 * what it reads back from the API server (diagnostics snapshots, preflight) and what the test
 * harness installs. Plain data; `kind`-specific fields (`spec`, `data`, `rules`, …) are
 * `unknown` until a caller narrows them.
 *
 * @module
 */

/** A reference to the object that owns another (`metadata.ownerReferences[]`), for garbage collection. */
export interface OwnerReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
  /** The managing controller: at most one owner reference sets it. */
  readonly controller?: boolean | undefined;
  /** The owner cannot be deleted in the foreground before this object is. */
  readonly blockOwnerDeletion?: boolean | undefined;
}

/**
 * Kubernetes object metadata (`metav1.ObjectMeta`) as an operator reads and writes it: what it
 * sets (name, labels, owner references, finalizers) and what the API server fills in (uid,
 * resourceVersion, generation, timestamps).
 */
export interface ObjectMeta {
  name: string;
  namespace?: string | undefined;
  /** Prefix of a server-generated name, when `name` is empty on create. */
  generateName?: string | undefined;
  labels?: Record<string, string> | undefined;
  annotations?: Record<string, string> | undefined;
  /** Set by the server; unique over the object's lifetime. */
  uid?: string | undefined;
  /** Set by the server; changes on every write; send it back for optimistic concurrency. */
  resourceVersion?: string | undefined;
  /** Set by the server; incremented on each change of `spec` (compare with `status.observedGeneration`). */
  generation?: number | undefined;
  /** Set by the server (RFC 3339). */
  creationTimestamp?: string | undefined;
  /** Set by the server when deletion was asked and finalizers remain (RFC 3339). */
  deletionTimestamp?: string | undefined;
  deletionGracePeriodSeconds?: number | undefined;
  ownerReferences?: OwnerReference[] | undefined;
  /** Keys that must be removed before the object is deleted, e.g. `zenko.io/cleanup`. */
  finalizers?: string[] | undefined;
  /** Server-side apply bookkeeping. */
  managedFields?: Record<string, unknown>[] | undefined;
}

/**
 * A Kubernetes object as plain data: `apiVersion`, `kind`, `metadata` (with at least a name),
 * and its body (`spec`, `data`, `status`, …).
 *
 * @example
 * ```ts
 * const cm: KubernetesObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: 'zenko-prod' }, data: { level: 'info' } };
 * ```
 */
export type KubernetesObject = {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
} & Record<string, unknown>;
