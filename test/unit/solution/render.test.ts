import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { type KubernetesObject, render, renderEnvironment, type Solution, validateSolution } from '../../../src/index.js';
import { loadSolutionFile } from '../../../src/packaging/index.js';
import { baseSolution } from '../../fixtures/solution/base.js';

const dec = new TextDecoder();
const text = (files: ReadonlyMap<string, Uint8Array>, p: string) => {
  const b = files.get(p);
  if (!b) throw new Error(`${p} not rendered; have ${[...files.keys()].join(', ')}`);
  return dec.decode(b);
};

function solutionOf(s: Record<string, unknown>): Solution {
  const r = validateSolution(s);
  if (!r.solution) throw new Error(JSON.stringify(r.issues));
  return r.solution;
}

describe('render() of examples/zenko-like', async () => {
  const { solution } = await loadSolutionFile('examples/zenko-like');
  const { files, images } = render(solution, { buildTimestamp: new Date('2026-01-02T03:04:05.678Z') });

  it('writes the manifest MetalK8s reads (metalk8s-reference §1.3)', () => {
    const m = parseYaml(text(files, 'manifest.yaml'), { version: '1.1' });
    expect(m.apiVersion).toBe('solutions.metalk8s.scality.com/v1alpha1');
    expect(m.kind).toBe('Solution');
    expect(m.metadata.name).toBe('zenko');
    expect(m.spec.version).toBe('2.6.0');
    expect(typeof m.spec.version).toBe('string');
    expect(m.spec.operator.image).toEqual({ name: 'zenko-operator', tag: '2.6.0' });
    expect(m.spec.images).toEqual(['backbeat:8.6.49', 'cloudserver:8.8.45', 'kafka:3.7.0', 'mongodb:6.0.13', 'redis:7.2.4', 'zenko-operator:2.6.0']);
    expect(m.metadata.annotations['solutions.metalk8s.scality.com/display-name']).toBe('Zenko');
    // Where MetalK8s' _archive_info_from_manifest really reads it: a top-level annotations key.
    expect(m.annotations).toEqual({ 'solutions.metalk8s.scality.com/display-name': 'Zenko' });
    expect(m.metadata.annotations['solutions.metalk8s.scality.com/build-timestamp']).toBe('2026-01-02T03:04:05Z');
    expect(m.metadata.annotations['solutions.metalk8s.scality.com/development-release']).toBe('0');
    expect(m.spec.operator.metrics).toEqual({ enabled: true, scheme: 'https', path: '/metrics', port: 8443 });
  });

  it('writes one CRD per *_crd.yaml file, named <group>_<plural>_crd.yaml, Jinja-safe', () => {
    const crdFiles = [...files.keys()].filter((p) => p.startsWith('operator/deploy/crds/'));
    expect(crdFiles).toEqual(['operator/deploy/crds/zenko.io_zenkos_crd.yaml', 'operator/deploy/crds/zenko.io_zenkoversions_crd.yaml']);
    for (const f of crdFiles) {
      const body = text(files, f);
      expect(parseAllDocuments(body)).toHaveLength(1);
      expect(body).not.toMatch(/\{\{|\{%|\{#/);
      const crd = parseYaml(body);
      expect(crd.apiVersion).toBe('apiextensions.k8s.io/v1');
      expect(crd.metadata.name).toBe(`${crd.spec.names.plural}.${crd.spec.group}`);
      expect(crd.spec.versions.filter((v: { storage: boolean }) => v.storage)).toHaveLength(1);
    }
    const zenko = parseYaml(text(files, 'operator/deploy/crds/zenko.io_zenkos_crd.yaml'));
    const v = zenko.spec.versions[0];
    expect(v.subresources).toEqual({ status: {} });
    expect(v.additionalPrinterColumns.map((c: { name: string }) => c.name)).toEqual(['Version', 'Phase', 'Age']);
    const spec = v.schema.openAPIV3Schema.properties.spec;
    expect(spec.properties.kafka.properties.brokers).toEqual({ type: 'integer', format: 'int64', minimum: 1, default: 3 });
    expect(spec.required).toEqual(['version', 'cloudserver', 'backbeat', 'mongodb', 'redis', 'kafka']);
    expect(spec.properties.locations.additionalProperties.properties.type.enum).toEqual(['aws_s3', 'azure', 'gcp', 'local']);
  });

  it('writes role.yaml with only a Role and a ClusterRole whose name carries the solution', () => {
    const docs = parseAllDocuments(text(files, 'operator/deploy/role.yaml')).map((d) => d.toJS());
    expect(docs.map((d) => d.kind)).toEqual(['Role', 'ClusterRole']);
    expect(docs[1].metadata.name).toBe('zenko-2.6.0-operator');
  });

  it('renders platform objects with the labels MetalK8s selects on', () => {
    const rules = parseYaml(text(files, 'platform/prometheusrules/zenko-alerts.yaml'));
    expect(rules.metadata.labels['metalk8s.scality.com/monitor']).toBe('');
    expect(rules.metadata.namespace).toBe('metalk8s-monitoring');
    const dash = parseYaml(text(files, 'platform/dashboards/zenko-dashboard-zenko-kafka.yaml'), { version: '1.1' });
    expect(dash.metadata.labels.grafana_dashboard).toBe('1');
    expect(dash.metadata.annotations['metalk8s.scality.com/grafana-folder-name']).toBe('Zenko');
    expect(JSON.parse(dash.data['zenko-kafka.json']).uid).toBe('zenko-kafka');
    const sc = parseYaml(text(files, 'platform/storageclasses/zenko-kafka.yaml'));
    expect(sc).toMatchObject({ provisioner: 'kubernetes.io/no-provisioner', reclaimPolicy: 'Retain', volumeBindingMode: 'WaitForFirstConsumer', parameters: { fsType: 'ext4', mkfsOptions: '["-m","0"]' } });
    const sm = parseYaml(text(files, 'platform/servicemonitors/zenko-redis.yaml'));
    expect(sm.metadata.labels['metalk8s.scality.com/monitor']).toBe('');
    expect(sm.spec.namespaceSelector).toEqual({ any: true });
  });

  it('lists the images with their in-cluster reference', () => {
    expect(images.map((i) => i.clusterReference)).toContain('metalk8s-registry-from-config.invalid/zenko-2.6.0/zenko-operator:2.6.0');
    expect(images.every((i) => i.platform === 'linux/amd64')).toBe(true);
  });

  it('is deterministic: two loads and renders give the same bytes', async () => {
    const again = render((await loadSolutionFile('examples/zenko-like')).solution, { buildTimestamp: new Date('2026-01-02T03:04:05.678Z') });
    expect([...again.files.keys()]).toEqual([...files.keys()]);
    for (const [p, b] of files) expect(Buffer.from(again.files.get(p)!).equals(Buffer.from(b)), p).toBe(true);
  });
});

describe('YAML 1.1 safety', () => {
  it('quotes values Kubernetes would read as booleans or dates', () => {
    const s = baseSolution();
    s.labels = { enabled: 'yes', flag: 'on', day: '2024-01-01', short: 'y' };
    const body = text(render(solutionOf(s)).files, 'manifest.yaml');
    expect(body).toContain('enabled: "yes"');
    expect(body).toContain('flag: "on"');
    expect(body).toContain('day: "2024-01-01"');
    expect(body).toContain('short: "y"');
  });

  it('keeps a development version flagged as such', () => {
    const s = baseSolution();
    s.version = '1.3.0-dev';
    const m = parseYaml(text(render(solutionOf(s)).files, 'manifest.yaml'));
    expect(m.metadata.annotations['solutions.metalk8s.scality.com/development-release']).toBe('1');
  });
});

describe('renderEnvironment (metalk8s-reference §2.7, §2.8, §8)', async () => {
  const { solution } = await loadSolutionFile('examples/zenko-like');
  const env = renderEnvironment(solution, { namespace: 'zenko-prod', importedVersions: ['2.5.1', '2.6.0'] });
  const byKind = (k: string) => env.objects.filter((o) => o.kind === k);
  const SALT_LABELS = { 'app.kubernetes.io/managed-by': 'salt', heritage: 'salt', 'metalk8s.scality.com/version': '129.0.0' };

  it('predicts MetalK8s 129 by default: exactly the 7 objects its prepare-environment writes', () => {
    expect(env.metalk8sVersion).toBe('129.0.0');
    expect(env.objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'ServiceAccount/zenko-operator',
      'Role/zenko-operator',
      'RoleBinding/zenko-operator-role-zenko-operator',
      'ClusterRole/zenko-2.6.0-operator',
      'RoleBinding/zenko-operator-clusterrole-zenko-2.6.0-operator',
      'ConfigMap/zenko-operator-config',
      'Deployment/zenko-operator',
    ]);
    expect(env.laterVersionObjects).toEqual({});
    // The example enables operator metrics: 129 ignores them, and the prediction says so.
    expect(env.notes.join('\n')).toMatch(/operator\.metrics: MetalK8s 129\.0\.0 creates no metrics objects/);
  });

  it('puts the labels of MetalK8s\' Salt writer on every object', () => {
    for (const o of env.objects) expect(o.metadata.labels, `${o.kind}/${o.metadata.name}`).toMatchObject(SALT_LABELS);
    const v = renderEnvironment(solution, { namespace: 'n', metalk8sVersion: '128.0.1' });
    for (const o of v.objects) expect(o.metadata.labels?.['metalk8s.scality.com/version']).toBe('128.0.1');
  });

  it('writes RoleBinding subjects without a namespace, as MetalK8s\' template does', () => {
    for (const b of byKind('RoleBinding')) expect((b as any).subjects).toEqual([{ kind: 'ServiceAccount', name: 'zenko-operator' }]);
  });

  it('adds the operator metrics objects only for a MetalK8s that creates them, marked as later-version objects', () => {
    const later = renderEnvironment(solution, { namespace: 'zenko-prod', metalk8sVersion: '130' });
    const kinds = later.objects.slice(7).map((o) => o.kind);
    expect(kinds).toEqual(['ClusterRole', 'ClusterRoleBinding', 'Issuer', 'Certificate', 'Service', 'ServiceMonitor']);
    expect(Object.keys(later.laterVersionObjects)).toEqual(later.objects.slice(7).map((o) => `${o.kind}/${o.metadata.name}`));
    expect(later.notes).toEqual([]);
    const monitor = later.objects.find((o) => o.kind === 'ServiceMonitor');
    expect(monitor?.metadata.labels?.['metalk8s.scality.com/monitor']).toBe('');
  });

  it('mounts the webhook certificate only for a MetalK8s with add-solution --webhook', () => {
    const mounts = (v: string) =>
      (renderEnvironment(solution, { namespace: 'n', webhook: true, metalk8sVersion: v }).objects.find((o) => o.kind === 'Deployment') as any).spec.template.spec
        .containers[0].volumeMounts.map((m: { name: string }) => m.name);
    expect(mounts('129')).toEqual(['operator-config', 'cert']);
    expect(mounts('124.1.7')).toEqual(['operator-config', 'cert']);
    expect(mounts('124.1.6')).toEqual(['operator-config']);
    expect(renderEnvironment(solution, { namespace: 'n', webhook: true, metalk8sVersion: '123.0' }).notes[0]).toMatch(/no add-solution --webhook/);
  });

  it('refuses a version that is not a MetalK8s version', () => {
    expect(() => renderEnvironment(solution, { namespace: 'n', metalk8sVersion: 'latest' })).toThrow(/"latest" is not a MetalK8s version/);
  });

  it('creates the operator Deployment MetalK8s creates, and nothing on top', () => {
    const [dep] = byKind('Deployment') as [KubernetesObject & { spec: any }];
    const c = dep.spec.template.spec.containers[0];
    expect(dep.metadata).toMatchObject({ name: 'zenko-operator', namespace: 'zenko-prod' });
    expect(dep.spec.replicas).toBe(1);
    expect(dep.spec.selector).toEqual({ matchLabels: { app: 'zenko-operator' } });
    expect(dep.spec.template.spec.serviceAccountName).toBe('zenko-operator');
    expect(Object.keys(c).sort()).toEqual(['command', 'env', 'image', 'imagePullPolicy', 'name', 'volumeMounts']);
    expect(c.image).toBe('metalk8s-registry-from-config.invalid/zenko-2.6.0/zenko-operator:2.6.0');
    expect(c.imagePullPolicy).toBe('Always');
    expect(c.command).toEqual(['zenko-operator', '--config=/etc/config/operator.yaml']);
    expect(c.env).toEqual([
      { name: 'WATCH_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'OPERATOR_NAME', value: 'zenko-operator' },
    ]);
    expect(c.volumeMounts).toEqual([{ name: 'operator-config', mountPath: '/etc/config' }]);
    expect(dep.spec.template.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'salt', heritage: 'salt' });
  });

  it('binds every role with a RoleBinding named as MetalK8s names it, at most 63 characters', () => {
    const names = byKind('RoleBinding').map((b) => b.metadata.name);
    expect(names).toEqual(['zenko-operator-role-zenko-operator', 'zenko-operator-clusterrole-zenko-2.6.0-operator']);
    expect(byKind('Role')[0]?.metadata.namespace).toBe('zenko-prod');
  });

  it('lists every imported version in the OperatorConfig', () => {
    const cfg = parseYaml(env.operatorConfig);
    expect(cfg.apiVersion).toBe('solutions.metalk8s.scality.com/v1alpha1');
    expect(cfg.kind).toBe('OperatorConfig');
    expect(Object.keys(cfg.repositories)).toEqual(['2.5.1', '2.6.0']);
    expect(cfg.repositories['2.6.0'][0].endpoint).toBe('metalk8s-registry-from-config.invalid/zenko-2.6.0');
  });

  it('cuts long RoleBinding names at 63 characters', () => {
    const s = baseSolution();
    s.name = 'a-rather-long-solution-name-for-rbac';
    s.operator.image = `${s.name}-operator`;
    s.images[0].name = s.operator.image;
    s.images[0].source.layers[0].files[0].path = `/usr/bin/${s.name}-operator`;
    const e = renderEnvironment(solutionOf(s), { namespace: 'n' });
    for (const b of e.objects.filter((o) => o.kind === 'RoleBinding')) expect(b.metadata.name.length).toBeLessThanOrEqual(63);
  });

});
