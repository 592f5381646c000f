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
