import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// The built CLI, as a user runs it (`npm test` builds first).
const CLI = join(process.cwd(), 'dist/cli.js');
const tmp = mkdtempSync(join(tmpdir(), 'cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function solution(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function readTree(dir: string, base = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(join(dir, base), { withFileTypes: true })) {
    const rel = base ? `${base}/${e.name}` : e.name;
    if (e.isDirectory()) Object.assign(out, readTree(dir, rel));
    else out[rel] = readFileSync(join(dir, rel), 'utf8');
  }
  return out;
}

describe('solution validate / render', () => {
  it('validates the example', () => {
    const r = solution('validate', 'examples/zenko-like');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/zenko-2\.6\.0 is valid/);
  });

  it('lists every problem of a broken YAML solution, with paths, and exits 1 without a stack trace', () => {
    const dir = join(tmp, 'broken');
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'solution.config.yaml'),
      [
        'name: metalk8s-Broken',
        'version: 1.0.0+x',
        'operator: { image: broken-operator }',
        'images:',
        '  - { name: other, tag: "1.0", source: { kind: registry, reference: "r.example.com/o:1" } }',
        'alerts:',
        '  - name: g',
        '    rules: [{ alert: A, expr: "rate(x[5m]", labels: { severity: critical } }]',
      ].join('\n'),
    );
    const r = solution('validate', dir);
    expect(r.code).toBe(1);
    for (const needle of ['NAME_INVALID', 'NAME_RESERVED_PREFIX', 'VERSION_INVALID', 'OPERATOR_IMAGE_NOT_SHIPPED', 'ALERT_EXPR_SYNTAX', 'alerts[0].rules[0].expr'])
      expect(r.stderr).toContain(needle);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('validates the example with no warning at all', () => {
    const r = solution('validate', 'examples/zenko-like', '--json');
    expect(JSON.parse(r.stdout.trim()).data.issues).toEqual([]);
  });

  it('refuses what the cluster would refuse: types, templates, sizes, CRD names and defaults, digests, each with its hint', () => {
    const dir = join(tmp, 'cluster-rules');
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'solution.config.yaml'),
      [
        'name: acme',
        'version: 1.2.0',
        'operator:',
        '  image: acme-operator',
        '  permissions:',
        '    namespaced: [{ apiGroups: [acme.example.com], resources: [stores], verbs: [get, list, watch] }]',
        '    cluster: [{ apiGroups: [storage.metalk8s.scality.com], resources: [volumes], verbs: [get] }]',
        'crds:',
        '  - group: acme.example.com',
        '    kind: Store',
        '    shortNames: [ST]',
        '    versions: [{ name: v1, openAPIV3Schema: { type: object, properties: { spec: { type: object, properties: { size: { type: integer, minimum: 5, default: 1 } } } } } }]',
        'images:',
        '  - { name: acme-operator, tag: 1.2.0, source: { kind: registry, reference: "r.example.com/acme/op@sha256:abc" } }',
        'components: [{ name: store, image: acme-operator, volumes: [{ name: data, size: 1.5Gi, storageClass: metalk8s }] }]',
        'alerts:',
        '  - name: g',
        '    rules: [{ alert: A, expr: "rate(up) > 0", labels: { severity: critical }, annotations: { summary: "{{ $value | humanize " } }]',
      ].join('\n'),
    );
    const r = solution('validate', dir, '--json');
    expect(r.code).toBe(1);
    const event = JSON.parse(`${r.stdout}${r.stderr}`.trim().split('\n').pop()!) as { type: string; issues: { code: string; path: string; hint?: string }[] };
    expect(event.type).toBe('error');
    const list = event.issues;
    const got = list.map((i) => `${i.code} ${i.path}`);
    expect(got).toEqual(
      expect.arrayContaining([
        'SIZE_NOT_METALK8S components[0].volumes[0].size',
        'IMAGE_DIGEST_INVALID images[0].source.reference',
        'ALERT_EXPR_TYPE alerts[0].rules[0].expr',
        'ALERT_TEMPLATE_INVALID alerts[0].rules[0].annotations.summary',
        'CRD_SHORT_NAME_INVALID crds[0].shortNames[0]',
        'CRD_DEFAULT_INVALID crds[0].versions[0].openAPIV3Schema.properties.spec.properties.size.default',
        'RBAC_CLUSTER_SCOPED_UNBOUND operator.permissions.cluster[0]',
      ]),
    );
    expect(list.every((i) => (i.hint ?? '').length > 10)).toBe(true);
  });

  it('reports a syntax error in a YAML file with its position', () => {
    const dir = join(tmp, 'syntax');
    mkdirSync(dir);
    writeFileSync(join(dir, 'solution.config.yaml'), 'name: [unclosed\n');
    const r = solution('validate', dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/SOLUTION_FILE_SYNTAX/);
    expect(r.stderr).toMatch(/line 2/);
  });

  it('emits JSON for CI with --json', () => {
    const r = solution('validate', 'examples/zenko-like', '--json');
    const event = JSON.parse(r.stdout.trim());
    expect(event).toMatchObject({ type: 'result', data: { valid: true, id: 'zenko-2.6.0' } });
  });

  it('renders the same tree twice, byte for byte, and refuses to overwrite an unrelated folder', () => {
    const a = join(tmp, 'a');
    const b = join(tmp, 'b');
    expect(solution('render', 'examples/zenko-like', '--out', a).code).toBe(0);
    expect(solution('render', 'examples/zenko-like', '--out', b, '-q').code).toBe(0);
    expect(readTree(a)).toEqual(readTree(b));
    expect(readTree(a)['manifest.yaml']).toContain('solutions.metalk8s.scality.com/build-timestamp: "2023-11-14T22:13:20Z"');
    // Rendering again over a previous render replaces it.
    expect(solution('render', 'examples/zenko-like', '--out', a, '-q').code).toBe(0);
    const precious = join(tmp, 'precious');
    mkdirSync(precious);
    writeFileSync(join(precious, 'notes.txt'), 'keep me');
    const r = solution('render', 'examples/zenko-like', '--out', precious);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/OUTPUT_NOT_EMPTY/);
    expect(readFileSync(join(precious, 'notes.txt'), 'utf8')).toBe('keep me');
  });

  it('fails clearly on a folder without a solution file', () => {
    const r = solution('render', tmp, '--out', join(tmp, 'x'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no solution file in .*\[SOLUTION_FILE_NOT_FOUND\]/);
  });
});

describe('solution preview-env', () => {
  it('prints the 7 objects MetalK8s 129 writes, with its labels, and says the metrics objects are not created', () => {
    const r = solution('preview-env', 'examples/zenko-like', '-n', 'zenko-prod', '--json');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.find((l) => l.type === 'warning')?.message).toMatch(/MetalK8s 129\.0\.0 creates no metrics objects/);
    const out = (lines.at(-1) as { data: { metalk8sVersion: string; objects: { kind: string; metadata: { labels: Record<string, string> } }[] } }).data;
    expect(out.metalk8sVersion).toBe('129.0.0');
    expect(out.objects.map((o) => o.kind)).toEqual(['ServiceAccount', 'Role', 'RoleBinding', 'ClusterRole', 'RoleBinding', 'ConfigMap', 'Deployment']);
    for (const o of out.objects) expect(o.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'salt', heritage: 'salt', 'metalk8s.scality.com/version': '129.0.0' });
  });

  it('marks the objects only a later MetalK8s creates, and refuses a version that is not one', () => {
    const r = solution('preview-env', 'examples/zenko-like', '-n', 'zenko-prod', '--metalk8s-version', '130');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('# what MetalK8s 130.0.0 writes in zenko-prod: 13 objects');
    expect(r.stdout.match(/^# created by MetalK8s 130\.0\.0 and later/gm)).toHaveLength(6);
    const bad = solution('preview-env', 'examples/zenko-like', '-n', 'x', '--metalk8s-version', 'latest');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/"latest" is not a MetalK8s version \[METALK8S_VERSION_INVALID\]/);
    expect(bad.stderr).not.toMatch(/at .*\.js:\d+/);
  });
});
