/**
 * The rules `validateSolution` applies to a definition, applied again to the files an archive
 * holds (`verify`): the CRDs of `operator/deploy/crds/` as apiextensions validates them, the
 * roles of `operator/deploy/role.yaml` as MetalK8s binds them, and the SDK's `platform/` objects
 * (rule groups as promtool checks them, StorageClass options, monitor selectors, dashboard
 * queries). Paths are `<file>:<path inside the object>`. Pure: it reads the bytes it is given.
 *
 * @module
 */
import { parseAllDocuments } from 'yaml';
import type { Issue } from '../errors.js';
import { checkCrdManifest } from './_crd-rules.js';
import {
  checkDashboardQueries,
  checkLabelSelector,
  checkMkfsOptions,
  checkMountOptions,
  checkPolicyRules,
  checkRuleGroups,
  Issues,
  type OwnResource,
  type RuleLike,
} from './_object-rules.js';
import { isRecord } from '../_record.js';

const dec = new TextDecoder();

function docs(bytes: Uint8Array): unknown[] {
  try {
    return parseAllDocuments(dec.decode(bytes)).flatMap((d) => (d.errors.length > 0 ? [] : [d.toJS() as unknown]));
  } catch {
    return [];
  }
}

/** Checks the objects of an archive's files (by archive path) with the solution rules. */
export function checkArchiveObjects(files: ReadonlyMap<string, Uint8Array>): Issue[] {
  const is = new Issues();
  const own: OwnResource[] = [];
  const sorted = [...files.keys()].sort();
  for (const file of sorted.filter((f) => f.startsWith('operator/deploy/crds/') && f.endsWith('_crd.yaml'))) {
    const found = docs(files.get(file)!);
    const crd = found.length === 1 ? found[0] : undefined;
    if (!isRecord(crd) || crd.apiVersion !== 'apiextensions.k8s.io/v1' || crd.kind !== 'CustomResourceDefinition') continue;
    checkCrdManifest(crd, (mp) => `${file}:${mp}`, is.list);
    const spec = isRecord(crd.spec) ? crd.spec : {};
    const names = isRecord(spec.names) ? spec.names : {};
    own.push({ group: String(spec.group), plural: String(names.plural), scope: String(spec.scope) });
  }
  const roles = files.get('operator/deploy/role.yaml');
  if (roles)
    docs(roles).forEach((d, i) => {
      if (!isRecord(d) || (d.kind !== 'Role' && d.kind !== 'ClusterRole') || !Array.isArray(d.rules)) return;
      checkPolicyRules(d.rules.filter(isRecord) as RuleLike[], `operator/deploy/role.yaml:documents[${i}].rules`, d.kind === 'ClusterRole', own, is);
    });
  for (const file of sorted.filter((f) => f.startsWith('platform/'))) {
    for (const obj of docs(files.get(file)!)) {
      if (!isRecord(obj)) continue;
      const spec = isRecord(obj.spec) ? obj.spec : {};
      if (obj.kind === 'PrometheusRule' && Array.isArray(spec.groups)) checkRuleGroups(spec.groups.filter(isRecord), `${file}:spec.groups`, is);
      if (obj.kind === 'ServiceMonitor' || obj.kind === 'PodMonitor') checkLabelSelector(spec.selector, `${file}:spec.selector`, is);
      if (obj.kind === 'StorageClass') {
        const params = isRecord(obj.parameters) ? obj.parameters : {};
        const fsType = String(params.fsType ?? '');
        if (Array.isArray(obj.mountOptions)) checkMountOptions(fsType, obj.mountOptions.map(String), `${file}:mountOptions`, is);
        if (params.mkfsOptions !== undefined) {
          let list: unknown;
          try {
            list = JSON.parse(String(params.mkfsOptions));
          } catch {
            list = undefined;
          }
          if (!Array.isArray(list) || !list.every((x) => typeof x === 'string'))
            is.error('MKFS_OPTIONS_NOT_JSON', `${file}:parameters.mkfsOptions`, 'must be a JSON-encoded list of strings, as MetalK8s reads it', 'For example \'["-m", "0"]\'.');
          else checkMkfsOptions(fsType, list, `${file}:parameters.mkfsOptions`, is);
        }
      }
      if (obj.kind === 'ConfigMap' && isRecord(obj.data) && isRecord(obj.metadata) && isRecord(obj.metadata.labels) && obj.metadata.labels.grafana_dashboard === '1')
        for (const [key, text] of Object.entries(obj.data)) {
          let model: unknown;
          try {
            model = JSON.parse(String(text));
          } catch {
            is.error('DASHBOARD_JSON_INVALID', `${file}:data.${key}`, 'is not JSON: Grafana\'s sidecar skips it');
            continue;
          }
          if (isRecord(model)) checkDashboardQueries(model, `${file}:data.${key}`, is);
        }
    }
  }
  return is.list;
}
