import { describe, expect, it } from 'vitest';
import { defineSolution, type Issue, ValidationError, validateSolution } from '../../../src/index.js';
import { baseSolution } from '../../fixtures/solution/base.js';

type Sol = Record<string, any>;
interface Case {
  readonly name: string;
  readonly mutate: (s: Sol) => void;
  readonly code: string;
  readonly path: string;
  readonly severity?: 'error' | 'warning';
}

/** Broken solutions: each mutation of the base must yield its issue code at its path. */
const corpus: Case[] = [
  { name: 'uppercase name', mutate: (s) => { s.name = 'Acme'; }, code: 'NAME_INVALID', path: 'name' },
  { name: 'name ending with a dash', mutate: (s) => { s.name = 'acme-'; }, code: 'NAME_INVALID', path: 'name' },
  { name: 'reserved metalk8s- prefix', mutate: (s) => { s.name = 'metalk8s-acme'; }, code: 'NAME_RESERVED_PREFIX', path: 'name' },
  { name: 'version with +', mutate: (s) => { s.version = '1.2.0+build1'; }, code: 'VERSION_INVALID', path: 'version' },
  { name: 'version with uppercase', mutate: (s) => { s.version = '1.2.0-RC1'; }, code: 'VERSION_INVALID', path: 'version' },
  { name: 'version read as a float', mutate: (s) => { s.version = '1.10'; }, code: 'VERSION_NOT_STRING', path: 'version' },
  { name: 'version not semver', mutate: (s) => { s.version = '2024.1'; s.version = '2024.1.x'; }, code: 'VERSION_NOT_SEMVER', path: 'version', severity: 'warning' },
  { name: 'id longer than 54', mutate: (s) => { s.name = 'a'.repeat(50); s.operator.image = 'a'.repeat(50) + '-operator'; s.images[0].name = s.operator.image; }, code: 'ID_TOO_LONG', path: 'name' },
  { name: 'version as a number', mutate: (s) => { s.version = 1.2; }, code: 'INVALID_TYPE', path: 'version' },
  { name: 'missing name', mutate: (s) => { delete s.name; }, code: 'REQUIRED', path: 'name' },
  { name: 'misspelt top-level field', mutate: (s) => { s.storageclasses = s.storageClasses; }, code: 'UNKNOWN_FIELD', path: 'storageclasses' },
  { name: 'misspelt nested field', mutate: (s) => { s.operator.imgae = 'x'; }, code: 'UNKNOWN_FIELD', path: 'operator.imgae' },
  { name: 'no images', mutate: (s) => { s.images = []; }, code: 'TOO_SMALL', path: 'images' },
  { name: 'operator image not shipped', mutate: (s) => { s.operator.image = 'other-operator'; }, code: 'OPERATOR_IMAGE_NOT_SHIPPED', path: 'operator.image' },
  // MetalK8s replaces its operator Deployment on every prepare-environment run (reference §8).
  { name: 'operator args', mutate: (s) => { s.operator.args = ['--leader-elect']; }, code: 'OPERATOR_OVERRIDE_UNSUPPORTED', path: 'operator.args' },
  { name: 'operator env', mutate: (s) => { s.operator.env = { LOG_LEVEL: 'debug' }; }, code: 'OPERATOR_OVERRIDE_UNSUPPORTED', path: 'operator.env' },
  { name: 'operator resources', mutate: (s) => { s.operator.resources = { requests: { cpu: '100m' } }; }, code: 'OPERATOR_OVERRIDE_UNSUPPORTED', path: 'operator.resources' },
  { name: 'nonResourceURLs in a Role', mutate: (s) => { s.operator.permissions.namespaced.push({ nonResourceURLs: ['/metrics'], verbs: ['get'] }); }, code: 'RBAC_NON_RESOURCE_NAMESPACED', path: 'operator.permissions.namespaced[1].nonResourceURLs' },
  { name: 'rule without apiGroups', mutate: (s) => { s.operator.permissions.namespaced[0].apiGroups = undefined; }, code: 'RBAC_API_GROUPS_MISSING', path: 'operator.permissions.namespaced[0].apiGroups' },
  { name: 'rule without verbs', mutate: (s) => { s.operator.permissions.cluster[0].verbs = []; }, code: 'TOO_SMALL', path: 'operator.permissions.cluster[0].verbs' },
  { name: 'wildcard rule', mutate: (s) => { s.operator.permissions.cluster[0].verbs = ['*']; }, code: 'RBAC_WILDCARD', path: 'operator.permissions.cluster[0]', severity: 'warning' },
  { name: 'metrics port out of range', mutate: (s) => { s.operator.metrics = { port: 70000 }; }, code: 'METRICS_PORT_INVALID', path: 'operator.metrics.port' },
  { name: 'unknown image source kind', mutate: (s) => { s.images[1].source = { kind: 'ftp', reference: 'x' }; }, code: 'INVALID_VALUE', path: 'images[1].source.kind' },
  { name: 'bad registry reference', mutate: (s) => { s.images[1].source.reference = 'not a reference'; }, code: 'IMAGE_REFERENCE_INVALID', path: 'images[1].source.reference' },
  { name: 'uppercase image name', mutate: (s) => { s.images[1].name = 'Acme-Store'; s.components[0].image = 'Acme-Store'; }, code: 'IMAGE_NAME_INVALID', path: 'images[1].name' },
  { name: 'invalid tag', mutate: (s) => { s.images[1].tag = '-bad'; }, code: 'IMAGE_TAG_INVALID', path: 'images[1].tag' },
  { name: 'duplicate image', mutate: (s) => { s.images.push(structuredClone(s.images[1])); }, code: 'IMAGE_DUPLICATE', path: 'images[2]' },
  { name: 'unused image', mutate: (s) => { s.images.push({ name: 'acme-extra', tag: '1', source: { kind: 'registry', reference: 'r.example.com/x:1' } }); }, code: 'IMAGE_UNUSED', path: 'images[2]', severity: 'warning' },
  { name: 'component image not shipped', mutate: (s) => { s.components[0].image = 'acme-missing'; }, code: 'IMAGE_NOT_SHIPPED', path: 'components[0].image' },
  { name: 'bad platform', mutate: (s) => { s.images[1].platform = 'amd64'; }, code: 'IMAGE_PLATFORM_INVALID', path: 'images[1].platform' },
  { name: 'build file with both sources', mutate: (s) => { s.images[0].source.layers[0].files[0].from = 'bin/x'; }, code: 'BUILD_FILE_SOURCE', path: 'images[0].source.layers[0].files[0]' },
  { name: 'build file relative path', mutate: (s) => { s.images[0].source.layers[0].files[0].path = 'usr/bin/x'; }, code: 'BUILD_PATH_INVALID', path: 'images[0].source.layers[0].files[0].path' },
  { name: 'operator binary missing', mutate: (s) => { s.images[0].source.layers[0].files[0].path = '/opt/run'; }, code: 'OPERATOR_BINARY_MISSING', path: 'images[0].source', severity: 'warning' },
  { name: 'unknown storage class', mutate: (s) => { s.components[0].volumes[0].storageClass = 'fast'; }, code: 'STORAGE_CLASS_UNKNOWN', path: 'components[0].volumes[0].storageClass' },
  { name: 'bad volume size', mutate: (s) => { s.components[0].volumes[0].size = '10 gigs'; }, code: 'SIZE_INVALID', path: 'components[0].volumes[0].size' },
  { name: 'bad volume mode', mutate: (s) => { s.components[0].volumes[0].mode = 'Raw'; }, code: 'INVALID_VALUE', path: 'components[0].volumes[0].mode' },
  { name: 'fsType btrfs', mutate: (s) => { s.storageClasses[0].fsType = 'btrfs'; }, code: 'INVALID_VALUE', path: 'storageClasses[0].fsType' },
  { name: 'storage class named metalk8s', mutate: (s) => { s.storageClasses[0].name = 'metalk8s'; s.components[0].volumes[0].storageClass = 'metalk8s'; }, code: 'STORAGE_CLASS_RESERVED', path: 'storageClasses[0].name' },
  { name: 'duplicate storage class', mutate: (s) => { s.storageClasses.push({ name: 'acme-data', fsType: 'ext4' }); }, code: 'STORAGE_CLASS_DUPLICATE', path: 'storageClasses[1].name' },
  { name: 'PromQL syntax error', mutate: (s) => { s.alerts[0].rules[0].expr = 'sum(rate(x[5m])'; }, code: 'ALERT_EXPR_SYNTAX', path: 'alerts[0].rules[0].expr' },
  { name: 'bad for duration', mutate: (s) => { s.alerts[0].rules[0].for = '5 minutes'; }, code: 'DURATION_INVALID', path: 'alerts[0].rules[0].for' },
  { name: 'missing severity', mutate: (s) => { s.alerts[0].rules[0].labels = {}; }, code: 'ALERT_SEVERITY_MISSING', path: 'alerts[0].rules[0].labels' },
  { name: 'duplicate alert in a group', mutate: (s) => { s.alerts[0].rules.push(structuredClone(s.alerts[0].rules[0])); }, code: 'ALERT_DUPLICATE', path: 'alerts[0].rules[1].alert' },
  { name: 'duplicate rule group', mutate: (s) => { s.alerts.push(structuredClone(s.alerts[0])); s.alerts[1].rules[0].alert = 'AcmeDown2'; }, code: 'ALERT_GROUP_DUPLICATE', path: 'alerts[1].name' },
  { name: 'bad label name', mutate: (s) => { s.alerts[0].rules[0].labels['team-name'] = 'x'; }, code: 'LABEL_NAME_INVALID', path: 'alerts[0].rules[0].labels.team-name' },
  { name: 'duplicate dashboard uid', mutate: (s) => { s.dashboards.push(structuredClone(s.dashboards[0])); }, code: 'DASHBOARD_UID_DUPLICATE', path: 'dashboards[1].uid' },
  { name: 'dashboard uid too long', mutate: (s) => { s.dashboards[0].uid = 'x'.repeat(41); }, code: 'DASHBOARD_UID_INVALID', path: 'dashboards[0].uid' },
  { name: 'dashboard without title', mutate: (s) => { delete s.dashboards[0].dashboard.title; }, code: 'DASHBOARD_TITLE_MISSING', path: 'dashboards[0].title' },
  { name: 'empty monitor selector', mutate: (s) => { s.serviceMonitors[0].selector = {}; }, code: 'MONITOR_SELECTOR_EMPTY', path: 'serviceMonitors[0].selector' },
  { name: 'monitor without endpoints', mutate: (s) => { s.serviceMonitors[0].endpoints = []; }, code: 'TOO_SMALL', path: 'serviceMonitors[0].endpoints' },
  { name: 'Jinja in a CRD description', mutate: (s) => { s.crds[0].description = 'Use {{ name }} here'; }, code: 'CRD_JINJA_SYNTAX', path: 'crds[0].manifest.spec.versions[0].schema.openAPIV3Schema.description' },
  { name: 'Jinja comment in a CRD schema', mutate: (s) => { s.crds[0].versions[0].openAPIV3Schema.description = 'a {# b'; }, code: 'CRD_JINJA_SYNTAX', path: 'crds[0].manifest.spec.versions[0].schema.openAPIV3Schema.description' },
  { name: 'CRD group without a dot', mutate: (s) => { s.crds[0].group = 'acme'; }, code: 'CRD_GROUP_INVALID', path: 'crds[0].group' },
  { name: 'CRD group of Kubernetes', mutate: (s) => { s.crds[0].group = 'apps.k8s.io'; }, code: 'CRD_GROUP_RESERVED', path: 'crds[0].group' },
  { name: 'CRD lowercase kind', mutate: (s) => { s.crds[0].kind = 'store'; }, code: 'CRD_KIND_CASE', path: 'crds[0].kind', severity: 'warning' },
  { name: 'CRD two storage versions', mutate: (s) => { s.crds[0].versions.push({ ...structuredClone(s.crds[0].versions[0]), name: 'v2', storage: true }); s.crds[0].versions[0].storage = true; }, code: 'CRD_STORAGE_VERSION', path: 'crds[0].versions' },
  { name: 'CRD bad version name', mutate: (s) => { s.crds[0].versions[0].name = 'v1.0'; }, code: 'CRD_VERSION_NAME_INVALID', path: 'crds[0].versions[0].name' },
  { name: 'CRD v1beta1 manifest', mutate: (s) => { s.crds[0] = { manifest: { apiVersion: 'apiextensions.k8s.io/v1beta1', kind: 'CustomResourceDefinition', metadata: { name: 'x' }, spec: {} } }; }, code: 'CRD_MANIFEST_INVALID', path: 'crds[0].manifest' },
  { name: 'CRD manifest wrong name', mutate: (s) => { s.crds[0] = { manifest: { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'stores' }, spec: { group: 'acme.example.com', names: { kind: 'Store', plural: 'stores' }, scope: 'Namespaced', versions: [{ name: 'v1', served: true, storage: true }] } } }; }, code: 'CRD_NAME_MISMATCH', path: 'crds[0].manifest.metadata.name' },
  { name: 'CRD declared twice', mutate: (s) => { s.crds.push(structuredClone(s.crds[0])); }, code: 'CRD_DUPLICATE', path: 'crds[1]' },
  { name: 'CRD printer column path', mutate: (s) => { s.crds[0].versions[0].printerColumns = [{ name: 'R', type: 'integer', jsonPath: 'spec.replicas' }]; }, code: 'CRD_PRINTER_COLUMN_PATH', path: 'crds[0].versions[0].printerColumns[0].jsonPath' },
  { name: 'volume id over 32 bytes', mutate: (s) => { s.displayName = 'Acme Object Store Enterprise Edition'; }, code: 'VOLUME_ID_TRUNCATED', path: 'displayName', severity: 'warning' },
  { name: 'invalid label key', mutate: (s) => { s.labels = { 'bad key': 'x' }; }, code: 'LABEL_KEY_INVALID', path: 'labels.bad key' },
];

function run(c: Case): readonly Issue[] {
  const s = baseSolution();
  c.mutate(s);
  return validateSolution(s).issues;
}

describe('validation corpus', () => {
  it('has at least 40 broken solutions', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(40);
  });

  it('accepts the base solution without any issue', () => {
    const report = validateSolution(baseSolution());
    expect(report.issues).toEqual([]);
    expect(report.ok).toBe(true);
  });

  it.each(corpus)('$name → $code at $path', (c) => {
    const issues = run(c);
    const match = issues.find((i) => i.code === c.code && i.path === c.path);
    expect(match, `issues were: ${JSON.stringify(issues, null, 1)}`).toBeDefined();
    expect(match?.severity).toBe(c.severity ?? 'error');
    expect(match?.message.length).toBeGreaterThan(5);
  });

  it('reports every mistake at once, across sections', () => {
    const s = baseSolution();
    s.name = 'metalk8s-Bad';
    s.images[1].tag = '-bad';
    s.alerts[0].rules[0].expr = 'rate(x[5m]';
    s.storageClasses[0].fsType = 'zfs';
    const codes = validateSolution(s).issues.map((i) => i.code);
    expect(codes).toEqual(expect.arrayContaining(['NAME_INVALID', 'NAME_RESERVED_PREFIX', 'IMAGE_TAG_INVALID', 'ALERT_EXPR_SYNTAX', 'INVALID_VALUE']));
  });

  it('suggests the right field for a misspelt one', () => {
    const s = baseSolution();
    s.dashbords = s.dashboards;
    const issue = validateSolution(s).issues.find((i) => i.code === 'UNKNOWN_FIELD');
    expect(issue?.hint).toBe('Did you mean "dashboards"?');
  });

  it('says why operator args, env and resources are refused, and where each setting belongs', () => {
    const s = baseSolution();
    Object.assign(s.operator, { args: ['--leader-elect'], env: { A: 'b' }, resources: { limits: { memory: '1Gi' } } });
    const issues = validateSolution(s).issues.filter((i) => i.code === 'OPERATOR_OVERRIDE_UNSUPPORTED');
    expect(issues.map((i) => i.path)).toEqual(['operator.args', 'operator.env', 'operator.resources']);
    for (const i of issues) expect(i.message).toMatch(/replaces it whole on every prepare-environment run/);
    expect(issues.map((i) => i.hint)).toEqual([
      expect.stringMatching(/OperatorConfig/),
      expect.stringMatching(/config\.env/),
      expect.stringMatching(/LimitRange/),
    ]);
  });

  it('gives the PromQL error position', () => {
    const s = baseSolution();
    s.alerts[0].rules[0].expr = 'sum(x) by job';
    const issue = validateSolution(s).issues.find((i) => i.code === 'ALERT_EXPR_SYNTAX');
    expect(issue?.message).toMatch(/line 1, column 11/);
  });

  it('never throws on garbage', () => {
    for (const junk of [null, 42, 'x', [], { images: 'x' }, { name: {}, version: [], operator: 1, images: [null] }, { crds: [{ versions: null }] }]) {
      const report = validateSolution(junk);
      expect(report.ok).toBe(false);
      expect(report.issues.length).toBeGreaterThan(0);
    }
  });

  it('defineSolution throws one ValidationError carrying every issue', () => {
    const s = baseSolution();
    s.name = 'Bad';
    s.version = '1.2.0+x';
    let caught: unknown;
    try {
      defineSolution(s as never);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ValidationError);
    const err = caught as ValidationError;
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.issues.map((i) => i.code)).toEqual(expect.arrayContaining(['NAME_INVALID', 'VERSION_INVALID']));
  });
});
