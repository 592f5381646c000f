/**
 * Rules on the objects a solution ships, shared by `validateSolution` (on the definition) and
 * `verify` (on what an ISO holds): RBAC rules as the API server and MetalK8s' RoleBinding treat
 * them, Prometheus rule groups as `promtool check rules` does, StorageClass mount and mkfs
 * options as the node's `mount` and `mkfs` would take them, and label selectors as Prometheus
 * Operator parses them. Each function pushes issues at paths built by `at`.
 *
 * @module
 */
import type { Issue } from '../errors.js';
import { goTemplateError } from './_go-template.js';
import { DNS_SUBDOMAIN_RE, LABEL_NAME_RE, PROM_DURATION_RE } from './_names.js';
import { lintPromql } from './_promql.js';
import type { IssueCode } from '../error-codes.js';
import { isRecord } from '../_record.js';

/** Collects issues. */
export class Issues {
  readonly list: Issue[];
  constructor(list: Issue[] = []) {
    this.list = list;
  }
  error(code: IssueCode, path: string, message: string, hint?: string): void {
    this.list.push({ code, path, message, severity: 'error', ...(hint ? { hint } : {}) });
  }
  warn(code: IssueCode, path: string, message: string, hint?: string): void {
    this.list.push({ code, path, message, severity: 'warning', ...(hint ? { hint } : {}) });
  }
}

const strings = (v: unknown): string[] | undefined => (Array.isArray(v) ? v.map((x) => String(x)) : undefined);

// ---------------------------------------------------------------------------------------------
// Kubernetes labels

/** Kubernetes label value: at most 63 characters, alphanumeric at both ends, `-_.` inside. */
export const LABEL_VALUE_RE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Whether `key` is a valid Kubernetes label key (`[prefix/]name`). */
export function isLabelKey(key: string): boolean {
  const slash = key.indexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  return (
    name.length > 0 &&
    name.length <= 63 &&
    /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(name) &&
    (prefix === undefined || (prefix.length <= 253 && DNS_SUBDOMAIN_RE.test(prefix)))
  );
}

export function isLabelValue(v: string): boolean {
  return v.length <= 63 && LABEL_VALUE_RE.test(v);
}

/** A `metav1.LabelSelector`, as `metav1.LabelSelectorAsSelector` (used by Prometheus Operator) accepts it. */
export function checkLabelSelector(sel: unknown, at: string, is: Issues): void {
  if (!isRecord(sel)) return;
  const hint = 'In and NotIn need values; Exists and DoesNotExist take none.';
  if (isRecord(sel.matchLabels))
    for (const [k, v] of Object.entries(sel.matchLabels)) {
      if (!isLabelKey(k)) is.error('SELECTOR_KEY_INVALID', `${at}.matchLabels.${k}`, `"${k}" is not a valid label key`);
      if (typeof v !== 'string' || !isLabelValue(v))
        is.error('SELECTOR_VALUE_INVALID', `${at}.matchLabels.${k}`, `${JSON.stringify(v)} is not a valid label value (at most 63 of [A-Za-z0-9-_.], alphanumeric at both ends)`, 'Prometheus Operator cannot build the selector and skips the monitor.');
    }
  if (Array.isArray(sel.matchExpressions))
    sel.matchExpressions.forEach((e, i) => {
      if (!isRecord(e)) return;
      const p = `${at}.matchExpressions[${i}]`;
      const key = String(e.key ?? '');
      if (!isLabelKey(key)) is.error('SELECTOR_KEY_INVALID', `${p}.key`, `"${key}" is not a valid label key`);
      const values = strings(e.values) ?? [];
      const op = String(e.operator);
      if ((op === 'In' || op === 'NotIn') && values.length === 0)
        is.error('SELECTOR_VALUES_MISSING', `${p}.values`, `operator ${op} needs at least one value`, `${hint} Prometheus Operator refuses the selector and the monitor scrapes nothing.`);
      if ((op === 'Exists' || op === 'DoesNotExist') && values.length > 0)
        is.error('SELECTOR_VALUES_FORBIDDEN', `${p}.values`, `operator ${op} takes no values`, `${hint} Prometheus Operator refuses the selector and the monitor scrapes nothing.`);
      values.forEach((v, vi) => {
        if (!isLabelValue(v)) is.error('SELECTOR_VALUE_INVALID', `${p}.values[${vi}]`, `${JSON.stringify(v)} is not a valid label value`);
      });
    });
}

// ---------------------------------------------------------------------------------------------
// RBAC

/** Verbs the API server's authorizers know (resource requests) and the HTTP verbs of non-resource URLs. */
const RESOURCE_VERBS = new Set(['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection', 'use', 'bind', 'escalate', 'impersonate', 'approve', 'sign', 'attest', '*']);
const NON_RESOURCE_VERBS = new Set(['get', 'post', 'put', 'patch', 'delete', 'head', 'options', '*']);

/** Cluster-scoped resources of Kubernetes and MetalK8s, by API group ("" is core). */
const CLUSTER_SCOPED: Readonly<Record<string, readonly string[]>> = {
  '': ['nodes', 'namespaces', 'persistentvolumes', 'componentstatuses'],
  'storage.k8s.io': ['storageclasses', 'csidrivers', 'csinodes', 'volumeattachments', 'volumeattributesclasses'],
  'apiextensions.k8s.io': ['customresourcedefinitions'],
  'rbac.authorization.k8s.io': ['clusterroles', 'clusterrolebindings'],
  'admissionregistration.k8s.io': ['mutatingwebhookconfigurations', 'validatingwebhookconfigurations', 'validatingadmissionpolicies', 'validatingadmissionpolicybindings', 'mutatingadmissionpolicies', 'mutatingadmissionpolicybindings'],
  'certificates.k8s.io': ['certificatesigningrequests', 'clustertrustbundles'],
  'scheduling.k8s.io': ['priorityclasses'],
  'node.k8s.io': ['runtimeclasses'],
  'apiregistration.k8s.io': ['apiservices'],
  'flowcontrol.apiserver.k8s.io': ['flowschemas', 'prioritylevelconfigurations'],
  'networking.k8s.io': ['ingressclasses', 'ipaddresses', 'servicecidrs'],
  'authentication.k8s.io': ['tokenreviews', 'selfsubjectreviews'],
  'authorization.k8s.io': ['subjectaccessreviews', 'selfsubjectaccessreviews', 'selfsubjectrulesreviews'],
  'metrics.k8s.io': ['nodes'],
  'storage.metalk8s.scality.com': ['volumes'],
  'metalk8s.scality.com': ['clusterconfigs'],
  'cert-manager.io': ['clusterissuers'],
};

/** A CRD of the solution, as RBAC rules see it. */
export interface OwnResource {
  readonly group: string;
  readonly plural: string;
  readonly scope: string;
}

/** A PolicyRule as plain data. */
export interface RuleLike {
  readonly apiGroups?: readonly string[] | undefined;
  readonly resources?: readonly string[] | undefined;
  readonly resourceNames?: readonly string[] | undefined;
  readonly nonResourceURLs?: readonly string[] | undefined;
  readonly verbs?: readonly string[] | undefined;
}

function clusterScoped(group: string, resource: string, own: readonly OwnResource[]): boolean {
  const base = resource.split('/')[0] ?? resource;
  return (CLUSTER_SCOPED[group] ?? []).includes(base) || own.some((c) => c.group === group && c.plural === base && c.scope === 'Cluster');
}

const BINDING_HINT =
  'MetalK8s binds the operator\'s ClusterRole with a RoleBinding in the environment namespace (its prepare-environment orchestrate, role_binding.yaml.j2), so cluster-scoped resources and non-resource URLs are never granted. MetalK8s 129 offers a solution no supported way to get them: drop the rule, or document that the cluster admin runs `kubectl create clusterrolebinding <name>-operator-<namespace> --clusterrole=<name>-<version>-operator --serviceaccount=<namespace>:<name>-operator`.';

/**
 * Rules of the operator's Role (`cluster: false`) or ClusterRole (`cluster: true`), checked as
 * the API server validates them and as MetalK8s binds them.
 */
export function checkPolicyRules(rules: readonly RuleLike[], at: string, cluster: boolean, own: readonly OwnResource[], is: Issues): void {
  rules.forEach((r, i) => {
    const p = `${at}[${i}]`;
    const resources = r.resources ?? [];
    const urls = r.nonResourceURLs ?? [];
    if (urls.length > 0 && !cluster)
      is.error('RBAC_NON_RESOURCE_NAMESPACED', `${p}.nonResourceURLs`, 'nonResourceURLs only work in cluster permissions', 'Move this rule to operator.permissions.cluster.');
    if (urls.length > 0 && resources.length > 0)
      is.error('RBAC_RULE_MIXED', p, 'a rule cannot apply to both resources and nonResourceURLs', 'Split it into two rules.');
    if (urls.length === 0 && resources.length === 0) is.error('RBAC_RULE_EMPTY', p, 'a rule needs resources (or nonResourceURLs)');
    if (resources.length > 0 && !r.apiGroups)
      is.error('RBAC_API_GROUPS_MISSING', `${p}.apiGroups`, 'a rule with resources needs apiGroups', 'Use [""] for the core group (pods, services, configmaps...).');
    if ((r.verbs ?? []).includes('*') || resources.includes('*') || (r.apiGroups ?? []).includes('*'))
      is.warn('RBAC_WILDCARD', p, 'grants "*"', 'Grant only what the operator needs: reviewers of on-prem installs read role.yaml.');
    const known = urls.length > 0 ? NON_RESOURCE_VERBS : RESOURCE_VERBS;
    (r.verbs ?? []).forEach((v, vi) => {
      if (!known.has(v))
        is.warn('RBAC_VERB_UNKNOWN', `${p}.verbs[${vi}]`, `"${v}" is not a Kubernetes verb, so it never matches a request`, `Use ${[...known].filter((x) => x !== '*').join(', ')}.`);
    });
    resources.forEach((res, ri) => {
      if (res !== res.toLowerCase())
        is.warn('RBAC_RESOURCE_CASE', `${p}.resources[${ri}]`, `"${res}" is not lowercase: resources are plural lowercase names ("deployments", not "Deployment"), so this never matches`, `Write "${res.toLowerCase()}${res.toLowerCase().endsWith('s') ? '' : 's'}".`);
    });
    (r.apiGroups ?? []).forEach((g, gi) => {
      if (g !== '' && g !== '*' && !DNS_SUBDOMAIN_RE.test(g))
        is.warn('RBAC_API_GROUP_INVALID', `${p}.apiGroups[${gi}]`, `"${g}" is not an API group name, so this never matches`, 'API groups are DNS names ("apps", "zenko.io"); "" is the core group; do not include the version.');
    });
    if (cluster) {
      const scoped = resources.filter((res) => (r.apiGroups ?? []).some((g) => clusterScoped(g, res, own)));
      if (scoped.length > 0)
        is.warn('RBAC_CLUSTER_SCOPED_UNBOUND', p, `grants cluster-scoped ${scoped.join(', ')}, which never takes effect: MetalK8s binds this ClusterRole with a namespaced RoleBinding`, BINDING_HINT);
      if (urls.length > 0)
        is.warn('RBAC_NON_RESOURCE_UNBOUND', `${p}.nonResourceURLs`, 'non-resource URLs are only granted by a ClusterRoleBinding, which MetalK8s never creates', BINDING_HINT);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Prometheus rules

const SEVERITIES = new Set(['critical', 'warning', 'info']);

/** A rule group as plain data (the definition's `alerts`, or a PrometheusRule's `spec.groups`). */
export interface RuleGroupLike {
  readonly name?: unknown;
  readonly interval?: unknown;
  readonly rules?: unknown;
}

/** Checks rule groups as `promtool check rules` does, plus MetalK8s' severity convention. */
export function checkRuleGroups(groups: readonly RuleGroupLike[], at: string, is: Issues): void {
  const alertNames = new Map<string, string>();
  groups.forEach((g, gi) => {
    const gp = `${at}[${gi}]`;
    if (typeof g.name !== 'string' || g.name.trim() === '') is.error('ALERT_GROUP_NAME_EMPTY', `${gp}.name`, 'a rule group needs a name', 'promtool and Prometheus refuse a rule file with an unnamed group.');
    if (g.interval !== undefined && !(typeof g.interval === 'string' && PROM_DURATION_RE.test(g.interval) && g.interval !== ''))
      is.error('DURATION_INVALID', `${gp}.interval`, `"${String(g.interval)}" is not a Prometheus duration`, 'For example 30s, 5m or 1h30m.');
    const inGroup = new Set<string>();
    const rules = Array.isArray(g.rules) ? (g.rules.filter(isRecord) as Record<string, unknown>[]) : [];
    rules.forEach((r, ri) => {
      const rp = `${gp}.rules[${ri}]`;
      const alert = String(r.alert ?? '');
      if (alert === '') is.error('ALERT_NAME_INVALID', `${rp}.alert`, 'an alerting rule needs a name');
      else if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(alert))
        is.warn('ALERT_NAME_UNUSUAL', `${rp}.alert`, `"${alert}" is not a metric-style name: Prometheus takes it, but silences, routes and runbooks usually match names like ZenkoS3Down`, 'Use letters, digits and underscores, e.g. ZenkoS3Down.');
      if (inGroup.has(alert)) is.error('ALERT_DUPLICATE', `${rp}.alert`, `alert "${alert}" appears twice in group "${String(g.name)}"`);
      else if (alertNames.has(alert))
        is.warn('ALERT_DUPLICATE', `${rp}.alert`, `alert "${alert}" is also defined in ${alertNames.get(alert)}`, 'Give each alert a unique name so silences and runbooks are unambiguous.');
      inGroup.add(alert);
      alertNames.set(alert, gp);
      const expr = String(r.expr ?? '');
      const problems = lintPromql(expr, { requireInstant: true });
      const syntax = problems.find((x) => x.kind === 'syntax');
      if (syntax)
        is.error('ALERT_EXPR_SYNTAX', `${rp}.expr`, `PromQL ${syntax.message} at line ${syntax.line}, column ${syntax.column}`, 'Check the expression with promtool or in the Prometheus UI.');
      for (const x of problems.filter((y) => y.kind === 'type'))
        is.error('ALERT_EXPR_TYPE', `${rp}.expr`, `PromQL: ${x.message} (line ${x.line}, column ${x.column})`, 'promtool check rules refuses it: check the argument types, e.g. rate() needs a range such as x[5m].');
      for (const x of problems.filter((y) => y.kind === 'regex'))
        is.error('ALERT_EXPR_REGEX', `${rp}.expr`, `PromQL: ${x.message}`, 'Prometheus compiles matchers with Go\'s RE2: no lookahead or backreferences.');
      for (const x of problems.filter((y) => y.kind === 'result'))
        is.error('ALERT_EXPR_RESULT_TYPE', `${rp}.expr`, `PromQL: ${x.message}, so the alert can never fire (Prometheus fails every evaluation)`, 'Compare or aggregate it, e.g. rate(x[5m]) > 0.');
      if (r.for !== undefined && (typeof r.for !== 'string' || !PROM_DURATION_RE.test(r.for) || r.for === ''))
        is.error('DURATION_INVALID', `${rp}.for`, `"${String(r.for)}" is not a Prometheus duration`, 'For example 30s, 5m or 1h30m.');
      const labels = isRecord(r.labels) ? r.labels : undefined;
      const sev = labels?.severity;
      if (sev === undefined)
        is.error('ALERT_SEVERITY_MISSING', `${rp}.labels`, 'needs a "severity" label', 'MetalK8s routes and displays alerts by severity: critical, warning or info.');
      else if (!SEVERITIES.has(String(sev)))
        is.warn('ALERT_SEVERITY_UNKNOWN', `${rp}.labels.severity`, `"${String(sev)}" is not one of critical, warning, info`, 'MetalK8s\' UI knows only those.');
      for (const [field, map] of [['labels', labels], ['annotations', isRecord(r.annotations) ? r.annotations : undefined]] as const) {
        for (const [k, v] of Object.entries(map ?? {})) {
          const kp = `${rp}.${field}.${k}`;
          if (!LABEL_NAME_RE.test(k) || (field === 'labels' && k === '__name__'))
            is.error(field === 'labels' ? 'LABEL_NAME_INVALID' : 'ANNOTATION_NAME_INVALID', kp, `"${k}" is not a valid Prometheus ${field === 'labels' ? 'label' : 'annotation'} name`, `Use letters, digits and underscores: "${k.replace(/[^a-zA-Z0-9_]/g, '_').replace(/^([0-9])/, '_$1')}".`);
          const err = goTemplateError(String(v));
          if (err)
            is.error('ALERT_TEMPLATE_INVALID', kp, `the Go template does not parse: ${err}`, 'Prometheus refuses the rule file; close every {{ }}, use $labels.<name>, $value and Prometheus\' template functions (humanize, humanizePercentage...).');
        }
      }
      if (!(isRecord(r.annotations) && r.annotations.summary))
        is.warn('ALERT_SUMMARY_MISSING', `${rp}.annotations`, 'has no summary', 'Operators read the summary first: say what is broken in one line.');
    });
  });
  const names = new Map<string, number[]>();
  groups.forEach((g, i) => {
    names.set(String(g.name), [...(names.get(String(g.name)) ?? []), i]);
  });
  for (const [name, idx] of names)
    if (idx.length > 1) is.error('ALERT_GROUP_DUPLICATE', `${at}[${idx[1]}].name`, `rule group "${name}" is declared twice`, 'Prometheus refuses repeated group names in one rule file.');
}

// ---------------------------------------------------------------------------------------------
// Dashboards

/** Grafana's built-in variables replaced by a plausible value before a query is checked. */
function withoutGrafanaVariables(expr: string): string {
  return expr
    .replace(/\$__(rate_interval|interval|range|range_s|range_ms|interval_ms)\b/g, (_m, v: string) => (v.endsWith('_s') || v.endsWith('_ms') ? '60' : '5m'))
    .replace(/\[\s*\$\{?\w+\}?\s*\]/g, '[5m]')
    .replace(/@\s*\$\{[^}]+\}/g, '@ 1700000000')
    .replace(/\$\{(\w+)(:[\w:]+)?\}|\$(\w+)|\[\[(\w+)\]\]/g, 'grafana_variable');
}

/** Every panel query (`targets[].expr`) of a dashboard model, checked as PromQL; problems are warnings. */
export function checkDashboardQueries(model: Record<string, unknown>, at: string, is: Issues): void {
  const visit = (panels: unknown, p: string): void => {
    if (!Array.isArray(panels)) return;
    panels.forEach((panel, i) => {
      if (!isRecord(panel)) return;
      const pp = `${p}[${i}]`;
      if (Array.isArray(panel.targets))
        panel.targets.forEach((t, ti) => {
          if (!isRecord(t) || typeof t.expr !== 'string' || t.expr.trim() === '') return;
          const ds = isRecord(t.datasource) ? t.datasource : isRecord(panel.datasource) ? panel.datasource : undefined;
          if (ds && typeof ds.type === 'string' && ds.type !== 'prometheus') return;
          // A LogQL query behind a datasource variable: not PromQL.
          if (!(ds && ds.type === 'prometheus') && /\|[=~]|\|\s*(json|logfmt|pattern|regexp|line_format|label_format|unwrap)\b/.test(t.expr)) return;
          const problem = lintPromql(withoutGrafanaVariables(t.expr))[0];
          if (problem)
            is.warn('DASHBOARD_EXPR_INVALID', `${pp}.targets[${ti}].expr`, `PromQL ${problem.kind === 'syntax' ? problem.message : problem.message} (line ${problem.line}, column ${problem.column}): the panel will show an error`, 'Try the query in Prometheus\' UI (MetalK8s: /api/prometheus through the ingress).');
        });
      visit(panel.panels, `${pp}.panels`);
    });
  };
  visit(model.panels, `${at}.panels`);
  if (Array.isArray(model.rows))
    model.rows.forEach((r, i) => {
      if (isRecord(r)) visit(r.panels, `${at}.rows[${i}].panels`);
    });
}

// ---------------------------------------------------------------------------------------------
// StorageClasses

/** Options every filesystem takes (mount(8) FILESYSTEM-INDEPENDENT MOUNT OPTIONS and the VFS). */
const GENERIC_MOUNT = [
  'async', 'sync', 'dirsync', 'atime', 'noatime', 'diratime', 'nodiratime', 'relatime', 'norelatime', 'strictatime', 'nostrictatime',
  'lazytime', 'nolazytime', 'dev', 'nodev', 'exec', 'noexec', 'suid', 'nosuid', 'ro', 'rw', 'mand', 'nomand', 'iversion', 'noiversion',
  'silent', 'loud', 'defaults', 'auto', 'noauto', 'nofail', '_netdev', 'user', 'nouser', 'users', 'owner', 'group', 'remount', 'bind',
  'context=', 'fscontext=', 'defcontext=', 'rootcontext=', 'seclabel', 'nosymfollow', 'dax', 'dax=',
];
const EXT4_MOUNT = [
  'journal_dev=', 'journal_path=', 'norecovery', 'noload', 'data=', 'commit=', 'orlov', 'oldalloc', 'user_xattr', 'nouser_xattr', 'acl',
  'noacl', 'bsddf', 'minixdf', 'debug', 'errors=', 'data_err=', 'grpid', 'bsdgroups', 'nogrpid', 'sysvgroups', 'resgid=', 'resuid=',
  'sb=', 'quota', 'noquota', 'usrquota', 'grpquota', 'prjquota', 'jqfmt=', 'usrjquota=', 'grpjquota=', 'journal_checksum',
  'nojournal_checksum', 'journal_async_commit', 'barrier', 'barrier=', 'nobarrier', 'inode_readahead_blks=', 'stripe=', 'delalloc',
  'nodelalloc', 'max_batch_time=', 'min_batch_time=', 'journal_ioprio=', 'abort', 'auto_da_alloc', 'auto_da_alloc=', 'noauto_da_alloc',
  'noinit_itable', 'init_itable', 'init_itable=', 'discard', 'nodiscard', 'nouid32', 'block_validity', 'noblock_validity',
  'dioread_lock', 'dioread_nolock', 'i_version', 'nombcache', 'no_mbcache', 'test_dummy_encryption', 'prefetch_block_bitmaps',
  'no_prefetch_block_bitmaps', 'mb_optimize_scan=', 'inlinecrypt', 'grpjquota', 'usrjquota',
];
const XFS_MOUNT = [
  'allocsize=', 'attr2', 'noattr2', 'discard', 'nodiscard', 'grpid', 'bsdgroups', 'nogrpid', 'sysvgroups', 'filestreams', 'ikeep',
  'noikeep', 'inode32', 'inode64', 'largeio', 'nolargeio', 'logbufs=', 'logbsize=', 'logdev=', 'rtdev=', 'noalign', 'norecovery',
  'nouuid', 'noquota', 'uquota', 'usrquota', 'quota', 'uqnoenforce', 'qnoenforce', 'gquota', 'grpquota', 'gqnoenforce', 'pquota',
  'prjquota', 'pqnoenforce', 'sunit=', 'swidth=', 'swalloc', 'wsync', 'barrier', 'nobarrier', 'inode_readahead_blks=',
];
const MOUNT_OPTIONS: Readonly<Record<string, readonly string[]>> = { ext4: [...GENERIC_MOUNT, ...EXT4_MOUNT], xfs: [...GENERIC_MOUNT, ...XFS_MOUNT] };

function knownOption(list: readonly string[], opt: string): boolean {
  // x-* options are for userspace tools (mount(8) drops them before the kernel sees them).
  if (opt.startsWith('x-')) return true;
  const eq = opt.indexOf('=');
  return eq >= 0 ? list.includes(opt.slice(0, eq + 1)) : list.includes(opt);
}

/** Mount options of a StorageClass of filesystem `fsType`, as kubelet passes them to mount(8). */
export function checkMountOptions(fsType: string, options: readonly string[], at: string, is: Issues): void {
  const mine = MOUNT_OPTIONS[fsType];
  if (!mine) return;
  const other = fsType === 'ext4' ? MOUNT_OPTIONS.xfs! : MOUNT_OPTIONS.ext4!;
  options.forEach((item, i) => {
    const p = `${at}[${i}]`;
    if (item === '' || /\s/.test(item)) {
      is.error('MOUNT_OPTION_INVALID', p, `${JSON.stringify(item)} holds spaces: kubelet passes it to mount -o as is, and the mount fails`, 'Give one option per list item, without spaces.');
      return;
    }
    // kubelet joins the list with commas: an item may hold several options.
    for (const opt of item.split(',').filter((o) => o !== '')) {
      if (knownOption(mine, opt)) continue;
      if (knownOption(other, opt))
        is.error('MOUNT_OPTION_WRONG_FS', p, `"${opt}" is a ${fsType === 'ext4' ? 'xfs' : 'ext4'} option: mounting the ${fsType} volume fails and the pod stays in ContainerCreating`, `Remove it, or use fsType ${fsType === 'ext4' ? 'xfs' : 'ext4'}.`);
      else {
        const near = mine.map((k) => k.replace(/=$/, '')).find((k) => editDistance(k, opt.split('=')[0] ?? opt) <= 2);
        is.warn('MOUNT_OPTION_UNKNOWN', p, `"${opt}" is not a mount option ${fsType} or mount(8) knows: mounting would fail and the pod stay in ContainerCreating`, near ? `Did you mean "${near}"?` : 'Check `man 5 ext4` / `man 5 xfs` and `man 8 mount`.');
      }
    }
  });
}

const MKFS_FLAGS: Readonly<Record<string, string>> = { ext4: 'bcCdDeEFgGiIjJlLmMnNoOqrStTUvVz', xfs: 'bcmdfilnpqrsLNKV' };

/** mkfs options of a StorageClass: MetalK8s runs `mkfs.<fsType> … <options> <device>` without a shell. */
export function checkMkfsOptions(fsType: string, options: readonly string[], at: string, is: Issues): void {
  const flags = MKFS_FLAGS[fsType];
  options.forEach((opt, i) => {
    const p = `${at}[${i}]`;
    if (/[;&|`$<>]/.test(opt)) {
      is.error('MKFS_OPTION_SHELL', p, `${JSON.stringify(opt)} holds shell syntax, but MetalK8s runs mkfs without a shell: mkfs receives it literally (no substitution, no second command), so it fails or does something else than meant`, 'Give mkfs arguments only, each as its own list item, e.g. ["-m", "0"].');
      return;
    }
    if (/\s/.test(opt))
      is.warn('MKFS_OPTION_SPACES', p, `${JSON.stringify(opt)} holds spaces: MetalK8s passes it to mkfs as one argument`, 'Give each argument as its own list item, e.g. ["-E", "lazy_itable_init=0"].');
    if (flags && /^-[A-Za-z]/.test(opt) && !flags.includes(opt[1]!))
      is.warn('MKFS_OPTION_UNKNOWN', p, `"${opt}" is not an option of mkfs.${fsType}`, `See man mkfs.${fsType}.`);
  });
  if (options.some((o) => o.startsWith('-U') || (o === '-m' && fsType === 'xfs')))
    is.warn('MKFS_OPTIONS_SUSPECT', at, 'MetalK8s sets the filesystem UUID itself (-U / -m uuid=)', 'Do not set the UUID; on xfs, "-m" takes key=value pairs.');
}

/** Levenshtein distance, for "did you mean". */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length]![b.length]!;
}
