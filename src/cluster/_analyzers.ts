/**
 * The built-in analyzers of `doctor()`: pure functions from a {@link DiagnosticsSnapshot} to
 * findings. They read only the snapshot, so they give the same answer on a live cluster and on
 * a support bundle.
 */
import type { KubernetesObject } from '../solution/kubernetes-object.js';
import { DEPLOY_JOB_ANNOTATION, DEPLOY_RESULT_ANNOTATION } from './_node-model.js';
import type { DiagnosticsSnapshot, SaltJobRecord } from './diagnostics-snapshot.js';
import { compareVersions } from '../solution/version-order.js';

/** How bad a finding is. `critical` makes `solution doctor` exit 1. */
export type FindingSeverity = 'critical' | 'warning' | 'info';

/** One problem an analyzer found. */
export interface Finding {
  /** Stable code, e.g. `VOLUME_FAILED`. */
  readonly code: string;
  readonly severity: FindingSeverity;
  /** The object at fault: `Volume data-0`, `Deployment zenko/zenko-operator`. */
  readonly subject: string;
  /** One line: what is wrong. */
  readonly title: string;
  /** The facts it rests on (conditions, events, Salt steps), one per line. */
  readonly evidence: readonly string[];
  /** What to do about it. */
  readonly remedy: string;
}

/** An analyzer: a name and a function over the snapshot. Vendors write their own. */
export interface Analyzer {
  /** Short kebab-case name, shown with each finding. */
  readonly name: string;
  readonly description?: string | undefined;
  run(snapshot: DiagnosticsSnapshot): readonly Finding[] | Promise<readonly Finding[]>;
}

type Condition = { type: string; status: string; reason?: string; message?: string };

const conditions = (o: KubernetesObject): Condition[] => ((o.status as { conditions?: Condition[] } | undefined)?.conditions ?? []);
const ref = (o: KubernetesObject): string => `${o.kind} ${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name ?? '?'}`;
const cond = (c: Condition): string => `${c.type}=${c.status}${c.reason ? ` (${c.reason})` : ''}${c.message ? `: ${c.message}` : ''}`;

function eventsOf(s: DiagnosticsSnapshot, kind: string, name: string, namespace?: string): string[] {
  return s.events
    .filter((e) => {
      const io = e.involvedObject as { kind?: string; name?: string; namespace?: string } | undefined;
      // Warnings only: Normal events (scaling, registration) are not evidence of a problem.
      return (e as { type?: string }).type === 'Warning' && io?.kind === kind && io.name === name && (namespace === undefined || io.namespace === namespace);
    })
    .map((e) => {
      const ev = e as { type?: string; reason?: string; message?: string; count?: number };
      return `event ${ev.type ?? ''} ${ev.reason ?? ''}: ${ev.message ?? ''}${ev.count && ev.count > 1 ? ` (x${ev.count})` : ''}`.replace(/\s+/g, ' ');
    })
    .slice(-5);
}

const operatorNotAvailable: Analyzer = {
  name: 'operator-available',
  description: 'Deployments of the environments that are not Available, with the reasons',
  run(s) {
    const out: Finding[] = [];
    for (const d of s.deployments) {
      const cs = conditions(d);
      if (cs.some((c) => c.type === 'Available' && c.status === 'True')) continue;
      const name = d.metadata?.name ?? '';
      const ns = d.metadata?.namespace ?? '';
      const selector = (d.spec as { selector?: { matchLabels?: Record<string, string> } } | undefined)?.selector?.matchLabels ?? {};
      const pods = s.pods.filter((p) => p.metadata?.namespace === ns && Object.entries(selector).every(([k, v]) => p.metadata?.labels?.[k] === v));
      const waiting = pods.flatMap((p) =>
        ((p.status as { containerStatuses?: { name: string; state?: { waiting?: { reason?: string; message?: string } } }[] } | undefined)?.containerStatuses ?? [])
          .filter((c) => c.state?.waiting)
          .map((c) => `pod ${p.metadata?.name} container ${c.name} waiting: ${c.state?.waiting?.reason ?? ''} ${c.state?.waiting?.message ?? ''}`.trim()),
      );
      const failure = cs.find((c) => c.type === 'ReplicaFailure' && c.status === 'True');
      out.push({
        code: 'OPERATOR_NOT_AVAILABLE',
        severity: 'critical',
        subject: ref(d),
        title: `${name} is not Available${failure?.reason ? `: ${failure.reason}` : ''}`,
        evidence: [...(cs.length ? cs.map(cond) : ['no status conditions yet']), ...waiting, ...eventsOf(s, 'Deployment', name, ns)],
        remedy: failure
          ? `Fix what ReplicaFailure says (quota, admission, service account), then the Deployment recovers by itself.`
          : `Look at the pods' waiting reasons and events above; an image problem is reported separately.`,
      });
    }
    return out;
  },
};

const imageNotServed: Analyzer = {
  name: 'image-served',
  description: 'Solution images that the cluster registry does not serve',
  run(s) {
    return s.images
      .filter((i) => !i.listed || i.served === false)
      .map((i) => {
        const listed = s.solutions[Object.keys(s.solutions).find((k) => s.solutions[k]?.some((e) => e.id === i.solutionId)) ?? '']?.find((e) => e.id === i.solutionId);
        const images = ((listed?.manifest.spec as { images?: string[] } | undefined)?.images ?? []).join(', ');
        return {
          code: 'IMAGE_NOT_SERVED',
          severity: 'critical' as const,
          subject: `image ${i.image}`,
          title: `${i.image} is not served by the cluster registry`,
          evidence: [
            listed ? `not in spec.images of ${i.solutionId} (${images || 'none'})` : `no imported Solution version is ${i.solutionId}`,
            ...(i.detail ? [i.detail] : []),
            ...i.usedBy.map((u) => `used by ${u}`),
          ],
          remedy: listed
            ? `Pack the image into the Solution ISO (add it to images), or fix the reference in the object using it.`
            : `Import the ISO of ${i.solutionId} (solution import), or point the object at an imported version.`,
        };
      });
  },
};

const volumeFailed: Analyzer = {
  name: 'volume-failed',
  description: 'Volumes whose Ready condition is False, with the root cause',
  run(s) {
    const out: Finding[] = [];
    for (const v of s.volumes) {
      const ready = conditions(v).find((c) => c.type === 'Ready');
      if (ready?.status !== 'False') continue;
      const spec = v.spec as { nodeName?: string; storageClassName?: string } | undefined;
      const job = (v.status as { job?: string } | undefined)?.job;
      const recoverable = ready.reason === 'UnavailableError';
      out.push({
        code: 'VOLUME_FAILED',
        severity: 'critical',
        subject: ref(v),
        title: `Volume ${v.metadata?.name} on ${spec?.nodeName ?? '?'} failed: ${ready.reason ?? 'unknown reason'}`,
        evidence: [cond(ready), ...(job ? [`status.job ${job}`] : []), `storageClassName ${spec?.storageClassName ?? '?'}`, ...eventsOf(s, 'Volume', v.metadata?.name ?? '')],
        remedy: recoverable
          ? 'Its PersistentVolume is Failed; the Volume recovers once the PV does (check the disk and the node).'
          : 'A failed Volume is never retried: fix the cause above (device, StorageClass, node), then delete the Volume and create it again.',
      });
    }
    return out;
  },
};

function bytesOf(q: unknown): number | undefined {
  if (typeof q === 'number') return q;
  if (typeof q !== 'string') return undefined;
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|K|M|G|T|P|E)?$/.exec(q.trim());
  if (!m) return undefined;
  const units: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };
  return Number(m[1]) * (m[2] ? (units[m[2]] ?? 1) : 1);
}

const pvcUnmatched: Analyzer = {
  name: 'pvc-matching-volume',
  description: 'Pending PersistentVolumeClaims that no PersistentVolume or Volume can satisfy',
  run(s) {
    const out: Finding[] = [];
    for (const pvc of s.persistentVolumeClaims) {
      if ((pvc.status as { phase?: string } | undefined)?.phase !== 'Pending') continue;
      const spec = pvc.spec as { storageClassName?: string; selector?: { matchLabels?: Record<string, string> }; resources?: { requests?: { storage?: string } }; volumeName?: string } | undefined;
      const want = bytesOf(spec?.resources?.requests?.storage) ?? 0;
      const sc = spec?.storageClassName;
      const labels = spec?.selector?.matchLabels ?? {};
      const fits = (objLabels: Record<string, string> | undefined, storageClass: string | undefined, size: number | undefined) =>
        storageClass === sc && Object.entries(labels).every(([k, v]) => objLabels?.[k] === v) && (size === undefined || size >= want);
      const pvs = s.persistentVolumes.filter((pv) => {
        const ps = pv.spec as { storageClassName?: string; capacity?: { storage?: string }; claimRef?: unknown } | undefined;
        return !ps?.claimRef && fits(pv.metadata?.labels, ps?.storageClassName, bytesOf(ps?.capacity?.storage));
      });
      const volumes = s.volumes.filter((v) => {
        const vs = v.spec as { storageClassName?: string; template?: { metadata?: { labels?: Record<string, string> } }; sparseLoopDevice?: { size?: string }; lvmLogicalVolume?: { size?: string } } | undefined;
        const ready = conditions(v).find((c) => c.type === 'Ready');
        if (ready?.status === 'False') return false;
        const bound = s.persistentVolumes.some((pv) => pv.metadata?.name === v.metadata?.name && (pv.spec as { claimRef?: unknown } | undefined)?.claimRef);
        return !bound && fits(vs?.template?.metadata?.labels, vs?.storageClassName, bytesOf(vs?.sparseLoopDevice?.size ?? vs?.lvmLogicalVolume?.size));
      });
      if (pvs.length > 0 || volumes.length > 0 || spec?.volumeName) continue;
      const scExists = s.storageClasses.some((c) => c.metadata?.name === sc);
      out.push({
        code: 'PVC_NO_MATCHING_VOLUME',
        severity: 'critical',
        subject: ref(pvc),
        title: `${pvc.metadata?.name} is Pending and no Volume can satisfy it`,
        evidence: [
          `asks ${spec?.resources?.requests?.storage ?? '?'} of StorageClass ${sc ?? '(default)'}${Object.keys(labels).length ? ` with labels ${Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',')}` : ''}`,
          scExists ? `StorageClass ${sc} exists` : `StorageClass ${sc} does not exist`,
          `${s.volumes.length} Volumes and ${s.persistentVolumes.length} PersistentVolumes in the cluster; none unbound, healthy, of that class, labels and size`,
          ...eventsOf(s, 'PersistentVolumeClaim', pvc.metadata?.name ?? '', pvc.metadata?.namespace),
        ],
        remedy: `Create a Volume of StorageClass ${sc ?? 'metalk8s'} of at least ${spec?.resources?.requests?.storage ?? 'the requested size'}${Object.keys(labels).length ? ', with those labels in spec.template.metadata.labels' : ''} on a node with a free disk.`,
      });
    }
    return out;
  },
};

function deployJobOf(s: DiagnosticsSnapshot, node: string): SaltJobRecord | undefined {
  return s.saltJobs.find((j) => j.mods === 'metalk8s.orchestrate.deploy_node' && j.pillar.node_name === node);
}

/** A failed deploy, as `cluster.nodes.deploy()` records it on the Node, or as its Salt job says. */
function failedDeploy(s: DiagnosticsSnapshot, n: KubernetesObject): string[] {
  const a = n.metadata?.annotations ?? {};
  const recorded = a[DEPLOY_RESULT_ANNOTATION];
  if (recorded?.startsWith('failed:')) {
    let why = recorded.slice('failed:'.length);
    try {
      const r = JSON.parse(why) as { step?: string; comment?: string };
      why = `${r.step ?? '?'}: ${r.comment ?? ''}`;
    } catch {}
    return [`deploy_node job ${a[DEPLOY_JOB_ANNOTATION] ?? '?'} failed (recorded on the Node): ${why}`];
  }
  const job = deployJobOf(s, n.metadata?.name ?? '');
  return job?.success === false ? [`deploy_node job ${job.jid} failed: ${job.failure ?? 'no step reported'}`] : [];
}

const nodeHealth: Analyzer = {
  name: 'node-health',
  description: 'Nodes not Ready or left cordoned (often after a failed deploy)',
  run(s) {
    const out: Finding[] = [];
    for (const n of s.nodes) {
      const name = n.metadata?.name ?? '';
      const ready = conditions(n).find((c) => c.type === 'Ready');
      const deployFailure = failedDeploy(s, n);
      if (ready?.status !== 'True') {
        out.push({
          code: 'NODE_NOT_READY',
          severity: 'critical',
          subject: ref(n),
          title: `node ${name} is not Ready`,
          evidence: [ready ? cond(ready) : 'no Ready condition (the kubelet never reported)', ...deployFailure, ...eventsOf(s, 'Node', name)],
          remedy: deployFailure.length ? 'Fix the failed deploy step, then deploy the node again.' : 'Check the kubelet and containerd on the node, and its network to the control plane.',
        });
      }
      if ((n.spec as { unschedulable?: boolean } | undefined)?.unschedulable) {
        out.push({
          code: 'NODE_CORDONED',
          severity: 'warning',
          subject: ref(n),
          title: deployFailure.length ? `node ${name} is cordoned after a failed deploy` : `node ${name} is cordoned (unschedulable)`,
          evidence: ['spec.unschedulable=true', ...deployFailure, ...eventsOf(s, 'Node', name)],
          remedy: deployFailure.length
            ? 'deploy_node drains the node first and does not uncordon it on failure: fix the failed step and deploy again, or uncordon it (kubectl uncordon).'
            : 'If no maintenance is going on, uncordon it (kubectl uncordon) so pods can be scheduled there.',
        });
      }
    }
    return out;
  },
};

const environmentVersion: Analyzer = {
  name: 'environment-version',
  description: 'Environments running a version of a Solution other than the active one',
  run(s) {
    const out: Finding[] = [];
    for (const e of s.environments) {
      for (const [sol, version] of Object.entries(e.solutions)) {
        const entries = s.solutions[sol] ?? [];
        const active = entries.find((x) => x.active)?.version;
        if (active === version) continue;
        const imported = entries.some((x) => x.version === version);
        out.push({
          code: imported ? 'ENVIRONMENT_VERSION_NOT_ACTIVE' : 'ENVIRONMENT_VERSION_NOT_IMPORTED',
          severity: imported ? 'warning' : 'critical',
          subject: `environment ${e.name} (${e.namespace})`,
          title: `${e.name} runs ${sol} ${version}, but the active version is ${active ?? 'none'}`,
          evidence: [
            `metalk8s-environment in ${e.namespace}: ${sol}=${version}`,
            `imported versions of ${sol}: ${entries.map((x) => `${x.version}${x.active ? ' (active)' : ''}`).join(', ') || 'none'}`,
          ],
          remedy: imported
            ? active && compareVersions(version, active) < 0
              ? `Upgrade the environment: solution env upgrade ${e.name} ${sol} ${active}.`
              : `Activate ${version} (solution activate ${sol} ${version}) or move the environment to ${active ?? 'an active version'}.`
            : `Import ${sol} ${version} again, or move the environment to an imported version.`,
        });
      }
    }
    return out;
  },
};

const saltJobFailed: Analyzer = {
  name: 'salt-job',
  description: 'Failed Salt jobs of the Solution orchestrates and deploy_node',
  run(s) {
    // The latest run of each orchestrate and target decides: a failure fixed by a later success is history.
    const latest = new Map<string, SaltJobRecord>();
    for (const j of s.saltJobs) {
      const key = `${j.mods}|${JSON.stringify(j.pillar)}`;
      const seen = latest.get(key);
      if (!seen || seen.jid < j.jid) latest.set(key, j);
    }
    return [...latest.values()]
      .filter((j) => j.success === false)
      .sort((a, b) => (a.jid < b.jid ? -1 : 1))
      .map((j) => ({
        code: 'SALT_JOB_FAILED',
        severity: 'warning' as const,
        subject: `Salt job ${j.jid}`,
        title: `${j.mods ?? j.function}${Object.keys(j.pillar).length ? ` (${Object.entries(j.pillar).map(([k, v]) => `${k}=${String(v)}`).join(', ')})` : ''} failed`,
        evidence: [`started ${j.startTime ?? '?'} by ${j.user ?? '?'}`, j.failure ?? 'no failed step reported'],
        remedy: 'Fix the cause of the failed step, then run the same command again (every SDK verb converges when rerun).',
      }));
  },
};

const alertsFiring: Analyzer = {
  name: 'alerts',
  description: 'Alerts firing for the Solution (when alerts were collected)',
  run(s) {
    return s.alerts.map((a) => ({
      code: 'ALERT_FIRING',
      severity: a.severity === 'critical' ? ('critical' as const) : a.severity === 'warning' ? ('warning' as const) : ('info' as const),
      subject: `alert ${a.name}`,
      title: `${a.name} is firing${a.annotations.summary ? `: ${a.annotations.summary}` : ''}`,
      evidence: [
        ...(a.startsAt ? [`since ${a.startsAt}`] : []),
        Object.entries(a.labels)
          .map(([k, v]) => `${k}=${v}`)
          .join(', '),
        ...(a.annotations.description ? [a.annotations.description] : []),
      ],
      remedy: a.annotations.runbook_url ? `Follow ${a.annotations.runbook_url}.` : 'See the alert description; it clears by itself once the cause is gone.',
    }));
  },
};

/** The built-in analyzers, in report order. */
export const BUILTIN_ANALYZERS: readonly Analyzer[] = [operatorNotAvailable, imageNotServed, volumeFailed, pvcUnmatched, nodeHealth, environmentVersion, saltJobFailed, alertsFiring];
