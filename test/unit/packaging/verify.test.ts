import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspect } from '../../../src/packaging/inspect.js';
import { type IsoEntry, writeIso } from '../../../src/packaging/iso/iso-writer.js';
import type { SdkIndex } from '../../../src/packaging/pack.js';
import { verify } from '../../../src/packaging/verify.js';
import { render } from '../../../src/solution/render.js';
import { validateSolution } from '../../../src/solution/validate.js';
import { parseAllDocuments } from 'yaml';
import { toYamlDocuments } from '../../../src/solution/_yaml.js';
import { baseSolution } from '../../fixtures/solution/base.js';

// ISOs written by the SDK's own writer from a hand-made tree: each test breaks one rule.
const enc = new TextEncoder();
const hex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sdk-verify-unit-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A complete small archive: the base solution rendered, one image, the snippet, an index. */
function tree(): Map<string, Uint8Array> {
  const r = validateSolution(baseSolution());
  if (!r.solution) throw new Error('base solution invalid');
  const files = new Map(render(r.solution, { buildTimestamp: new Date(0) }).files);
  const config = enc.encode('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
  const layer = enc.encode('not really a tarball, but content named by its digest');
  const manifest = enc.encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: `sha256:${hex(config)}`, size: config.length },
      layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: `sha256:${hex(layer)}`, size: layer.length }],
    }),
  );
  for (const [name, tag] of [['acme-operator', '1.2.0'], ['acme-store', '1.2.0']] as const) {
    files.set(`images/${name}/${tag}/manifest.json`, manifest);
    files.set(`images/${name}/${tag}/version`, enc.encode('Directory Transport Version: 1.1\n'));
    files.set(`images/${name}/${tag}/${hex(config)}`, config);
    files.set(`images/${name}/${tag}/${hex(layer)}`, layer);
  }
  const loc = (n: string) => `location = "/v2/{{ repository }}/${n}/manifests/1.2.0" {\n    alias {{ registry_root }}/${n}/1.2.0/;\n}\n`;
  files.set('registry-config.inc.j2', enc.encode(loc('acme-operator') + loc('acme-store')));
  return files;
}

function indexOf(files: Map<string, Uint8Array>): SdkIndex {
  const image = (name: string) => ({
    name,
    tag: '1.2.0',
    source: 'build',
    manifestDigest: `sha256:${hex(files.get(`images/${name}/1.2.0/manifest.json`)!)}`,
    sourceDigest: 'sha256:0',
    configDigest: 'sha256:0',
    layers: [],
    size: 0,
    platform: 'linux/amd64',
  });
  return {
    schemaVersion: 1,
    sdkVersion: 'test',
    solution: { name: 'acme', version: '1.2.0', id: 'acme-1.2.0', displayName: 'Acme Store' },
    build: { timestamp: '1970-01-01T00:00:00Z' },
    images: [image('acme-operator'), image('acme-store')],
    files: [...files].map(([path, b]) => ({ path, size: b.length, sha256: hex(b) })).sort((a, b) => (a.path < b.path ? -1 : 1)),
  };
}

let n = 0;
/** Writes an ISO of `files` (plus the given index, if any) and verifies it. */
async function check(files: Map<string, Uint8Array>, index: SdkIndex | null | 'same' = 'same') {
  const idx = index === 'same' ? indexOf(files) : index;
  const entries: IsoEntry[] = [...files].map(([path, data]) => ({ path, type: 'file', source: { kind: 'bytes', data } }));
  if (idx !== null) entries.push({ path: 'sdk/index.json', type: 'file', source: { kind: 'bytes', data: JSON.stringify(idx) } });
  const path = join(dir, `t${n++}.iso`);
  await writeIso({ entries, output: path, volumeId: 'TEST', joliet: true, timestamp: new Date(0) });
  return { path, result: await verify({ path }) };
}

const codes = (r: Awaited<ReturnType<typeof verify>>) => r.issues.filter((i) => i.severity === 'error').map((i) => `${i.code} ${i.path}`);

describe('verify (unit)', () => {
  it('a complete tree passes; only the missing SHA256SUM is warned about', async () => {
    const { result } = await check(tree());
    expect(result.issues.map((i) => i.code)).toEqual(['CHECKSUM_FILE_MISSING']);
    expect(result.ok).toBe(true);
    expect(result.blobsChecked).toBe(4);
  });

  it('files added after packing, or missing, or different from the index', async () => {
    const files = tree();
    const index = indexOf(files);
    files.set('platform/extra.yaml', enc.encode('kind: ConfigMap\n'));
    files.delete('platform/storageclasses/acme-data.yaml');
    files.set('platform/servicemonitors/acme-store.yaml', enc.encode('changed\n'));
    const { result } = await check(files, index);
    expect(codes(result)).toEqual([
      'FILE_SIZE_MISMATCH platform/servicemonitors/acme-store.yaml',
      'FILE_MISSING platform/storageclasses/acme-data.yaml',
      'FILE_NOT_INDEXED platform/extra.yaml',
      // No apiVersion, no metadata.
      'PLATFORM_OBJECT_FORBIDDEN platform/extra.yaml',
      'PLATFORM_OBJECT_FORBIDDEN platform/extra.yaml',
      'PLATFORM_OBJECT_FORBIDDEN platform/servicemonitors/acme-store.yaml',
    ]);
  });

  it('an index that is not one, and a manifest that disagrees with the index', async () => {
    const files = tree();
    const bad = await check(files, { ...indexOf(files), files: [{ path: 'x', size: 1, sha256: 'nope' }] } as unknown as SdkIndex);
    expect(codes(bad.result)).toEqual(['SDK_INDEX_INVALID sdk/index.json']);
    const other = indexOf(files);
    const renamed = await check(files, { ...other, solution: { ...other.solution, version: '9.9.9', id: 'acme-9.9.9' } });
    expect(codes(renamed.result)).toEqual(['MANIFEST_INDEX_MISMATCH manifest.yaml']);
  });

  it('manifest rules: apiVersion, name, version, id', async () => {
    const files = tree();
    files.set('manifest.yaml', enc.encode('apiVersion: metalk8s.scality.com/v1alpha1\nkind: Solution\nmetadata:\n  name: Acme_Store\nspec:\n  version: 1.2.0\n'));
    const { result } = await check(files, null);
    expect(codes(result)).toEqual(['MANIFEST_API_VERSION manifest.yaml', 'MANIFEST_NAME_INVALID manifest.yaml']);
    files.set('manifest.yaml', enc.encode('apiVersion: solutions.metalk8s.scality.com/v1alpha1\nkind: Solution\nmetadata:\n  name: acme\nspec:\n  version: 1.2.0+build.7\n'));
    expect(codes((await check(files, null)).result)).toEqual(['MANIFEST_ID_INVALID manifest.yaml']);
    files.set('manifest.yaml', enc.encode('apiVersion: solutions.metalk8s.scality.com/v1alpha1\nkind: Solution\nmetadata:\n  name: acme\nspec: {}\n'));
    expect(codes((await check(files, null)).result)).toEqual(['MANIFEST_VERSION_MISSING manifest.yaml']);
  });

  it('the solution rules run on what the ISO holds: CRDs, roles, rules, StorageClasses, monitors', async () => {
    const files = tree();
    const edit = (path: string, change: (o: any) => void) => {
      const docs = parseAllDocuments(new TextDecoder().decode(files.get(path))).map((d) => d.toJS());
      docs.forEach(change);
      files.set(path, enc.encode(toYamlDocuments(docs)));
    };
    const crd = [...files.keys()].find((p) => p.endsWith('_crd.yaml'))!;
    edit(crd, (o) => {
      o.spec.names.shortNames = ['ST'];
    });
    edit('platform/prometheusrules/acme-alerts.yaml', (o) => {
      o.spec.groups[0].rules[0].expr = 'rate(up) > 0';
      o.spec.groups[0].rules[0].annotations.summary = '{{ $value | humanize ';
    });
    edit('platform/storageclasses/acme-data.yaml', (o) => {
      o.parameters.mkfsOptions = JSON.stringify(['-L', '$(hostname)']);
    });
    edit('platform/servicemonitors/acme-store.yaml', (o) => {
      o.spec.selector = { matchExpressions: [{ key: 'app', operator: 'In' }] };
    });
    edit('operator/deploy/role.yaml', (o) => {
      if (o.kind === 'ClusterRole') o.rules = [{ apiGroups: [''], resources: ['nodes'], verbs: ['get'] }];
    });
    const { result } = await check(files);
    expect(codes(result)).toEqual([
      `CRD_SHORT_NAME_INVALID ${crd}:spec.names.shortNames[0]`,
      'ALERT_EXPR_TYPE platform/prometheusrules/acme-alerts.yaml:spec.groups[0].rules[0].expr',
      'ALERT_TEMPLATE_INVALID platform/prometheusrules/acme-alerts.yaml:spec.groups[0].rules[0].annotations.summary',
      'SELECTOR_VALUES_MISSING platform/servicemonitors/acme-store.yaml:spec.selector.matchExpressions[0].values',
      'MKFS_OPTION_SHELL platform/storageclasses/acme-data.yaml:parameters.mkfsOptions[1]',
    ]);
    expect(result.issues).toContainEqual(expect.objectContaining({ code: 'RBAC_CLUSTER_SCOPED_UNBOUND', path: 'operator/deploy/role.yaml:documents[1].rules[0]', severity: 'warning' }));
  });

  it('image rules: a changed manifest, a snippet that does not serve an image, a blob of the wrong size', async () => {
    const files = tree();
    const index = indexOf(files);
    const m = JSON.parse(new TextDecoder().decode(files.get('images/acme-store/1.2.0/manifest.json')!));
    m.layers[0].size += 1;
    files.set('images/acme-store/1.2.0/manifest.json', enc.encode(JSON.stringify(m)));
    files.set('registry-config.inc.j2', enc.encode('location = "/v2/{{ repository }}/acme-operator/manifests/1.2.0" { }\n'));
    const { result } = await check(files, { ...index, files: indexOf(files).files });
    expect(codes(result)).toEqual([
      `IMAGE_BLOB_SIZE_MISMATCH images/acme-store/1.2.0/${m.layers[0].digest.slice(7)}`,
      'IMAGE_DIGEST_MISMATCH images/acme-store/1.2.0/manifest.json',
      'REGISTRY_CONFIG_IMAGE_MISSING registry-config.inc.j2',
    ]);
  });

  it('inspect reads the same tree: images, sizes deduplicated, roles, platform objects', async () => {
    const { path } = await check(tree());
    const info = await inspect({ path });
    expect(info.solution).toMatchObject({ name: 'acme', version: '1.2.0', id: 'acme-1.2.0', displayName: 'Acme Store', operatorImage: 'acme-operator:1.2.0' });
    expect(info.build).toEqual({ sdkVersion: 'test', timestamp: '1970-01-01T00:00:00Z' });
    expect(info.images.map((i) => [i.name, i.platform, i.layers.length])).toEqual([
      ['acme-operator', 'linux/amd64', 1],
      ['acme-store', 'linux/amd64', 1],
    ]);
    expect(info.sizes.imagesDeduplicated * 2).toBe(info.sizes.images);
    expect(info.roles.map((r) => `${r.kind} ${r.name} ${r.rules}`)).toEqual(['Role acme-operator 1', 'ClusterRole acme-1.2.0-operator 1']);
    expect(info.crds).toEqual([{ file: 'operator/deploy/crds/acme.example.com_stores_crd.yaml', name: 'stores.acme.example.com', group: 'acme.example.com', kind: 'Store', scope: 'Namespaced', versions: ['v1*'] }]);
    expect(info.platform.map((o) => o.kind).sort()).toEqual(['ConfigMap', 'PrometheusRule', 'ServiceMonitor', 'StorageClass']);
  });

  it('platform/ holding what activate would apply with admin rights: each object refused, naming file and object', async () => {
    const files = tree();
    files.set(
      'platform/rbac/crb.yaml',
      enc.encode(
        'apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: acme-admin\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: [{kind: ServiceAccount, name: default, namespace: acme}]\n---\napiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\nmetadata:\n  name: acme-hook\nwebhooks: []\n',
      ),
    );
    files.set(
      'platform/storageclasses/acme-default.yaml',
      enc.encode('apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: acme-default\n  annotations:\n    storageclass.kubernetes.io/is-default-class: "true"\nprovisioner: kubernetes.io/no-provisioner\n'),
    );
    files.set(
      'platform/servicemonitors/acme-steal.yaml',
      enc.encode(
        'apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata:\n  name: acme-steal\n  namespace: metalk8s-monitoring\nspec:\n  selector: {}\n  endpoints:\n  - port: web\n    bearerTokenSecret: {name: prometheus-token, key: token}\n',
      ),
    );
    files.set('platform/dashboards/other.yaml', enc.encode('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other-dashboard\n  namespace: kube-system\n  labels: {grafana_dashboard: "1"}\ndata: {"x.json": "{}"}\n'));
    const { result } = await check(files);
    expect(result.ok).toBe(false);
    const platform = result.issues.filter((i) => i.code === 'PLATFORM_OBJECT_FORBIDDEN');
    const messages = platform.map((i) => `${i.path}: ${i.message}`);
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^platform\/rbac\/crb\.yaml: ClusterRoleBinding acme-admin: kind "ClusterRoleBinding" is not allowed/),
        expect.stringMatching(/^platform\/rbac\/crb\.yaml: MutatingWebhookConfiguration acme-hook: kind/),
        expect.stringMatching(/^platform\/storageclasses\/acme-default\.yaml: StorageClass acme-default: metadata.annotations has "storageclass.kubernetes.io\/is-default-class"/),
        expect.stringMatching(/^platform\/servicemonitors\/acme-steal\.yaml: ServiceMonitor metalk8s-monitoring\/acme-steal: spec.endpoints\[0\] has "bearerTokenSecret"/),
        expect.stringMatching(/^platform\/dashboards\/other\.yaml: ConfigMap kube-system\/other-dashboard: namespace is "kube-system"/),
        expect.stringMatching(/^platform\/dashboards\/other\.yaml: ConfigMap kube-system\/other-dashboard: name "other-dashboard" does not start with "acme-"/),
      ]),
    );
    // What render() writes there passes.
    expect(platform.filter((i) => /acme-data|acme-alerts|acme-store|acme-dashboard/.test(i.path))).toEqual([]);
  });

  it('a v1beta1 CRD file is an error: no Kubernetes MetalK8s runs serves it', async () => {
    const files = tree();
    files.set('operator/deploy/crds/acme.example.com_olds_crd.yaml', enc.encode('apiVersion: apiextensions.k8s.io/v1beta1\nkind: CustomResourceDefinition\nmetadata:\n  name: olds.acme.example.com\nspec: {}\n'));
    const { result } = await check(files);
    expect(codes(result)).toEqual(['CRD_API_VERSION_UNSERVED operator/deploy/crds/acme.example.com_olds_crd.yaml']);
  });

  it('manifest.yaml is read with MetalK8s\' loading rules: tags, duplicate keys, numbers, documents, characters', async () => {
    const head = 'apiVersion: solutions.metalk8s.scality.com/v1alpha1\nkind: Solution\n';
    const cases: [string, string, RegExp][] = [
      [`${head}metadata:\n  name: acme\n  annotations: !!python/object/apply:os.system ["id"]\nspec:\n  version: 1.2.0\n`, 'MANIFEST_YAML_UNSAFE', /!!python\/object\/apply:os.system is refused/],
      [`${head}metadata:\n  name: !acme acme\nspec:\n  version: 1.2.0\n`, 'MANIFEST_YAML_UNSAFE', /tag !acme is refused/],
      [`${head}metadata:\n  name: acme\nspec:\n  version: 1.2.0\n  version: 6.6.6\n`, 'MANIFEST_YAML_UNSAFE', /appears twice.*keeps the last/],
      [`${head}metadata:\n  name: acme\nspec:\n  version: 1.10\n`, 'MANIFEST_FIELD_NOT_STRING', /spec.version is read by YAML 1.1 as the number 1.1/],
      [`${head}metadata:\n  name: acme\nspec:\n  version: 1.2.0\n---\n${head}metadata:\n  name: other\n`, 'MANIFEST_YAML_UNSAFE', /2 YAML documents/],
      [`${head}metadata:\n  name: acme\n  annotations: {a: "x\u0007"}\nspec:\n  version: 1.2.0\n`, 'MANIFEST_YAML_UNSAFE', /U\+0007/],
    ];
    for (const [text, code, message] of cases) {
      const files = tree();
      files.set('manifest.yaml', enc.encode(text));
      const { result } = await check(files, null);
      const found = result.issues.find((i) => i.code === code);
      expect(found?.message, text).toMatch(message);
      expect(found?.severity).toBe('error');
    }
    // Quoted, the same version is fine.
    const files = tree();
    files.set('manifest.yaml', enc.encode(`${head}metadata:\n  name: acme\nspec:\n  version: "1.10"\n`));
    expect(codes((await check(files, null)).result).filter((c) => c.startsWith('MANIFEST'))).toEqual([]);
  });
});
