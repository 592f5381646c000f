import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diff } from '../../../src/packaging/diff.js';
import type { PackResult } from '../../../src/packaging/pack.js';
import { EXAMPLE, packFolder, ROOT, solution, tempDir } from './_pack.js';

// Two versions of the example: 2.7.0 drops a CRD field, changes a StorageClass parameter,
// grants the operator one more verb and relaxes an alert.
let dir: string;
let copy: string;
let v1: PackResult;
let v2: PackResult;

function edit(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`the example no longer contains ${JSON.stringify(from)}: update this test`);
  return text.replace(from, to);
}

beforeAll(async () => {
  dir = await tempDir('diff');
  copy = join(ROOT, 'test', `.tmp-diff-${process.pid}`);
  await cp(EXAMPLE, copy, { recursive: true });
  let text = await readFile(join(copy, 'solution.config.ts'), 'utf8');
  text = edit(text, "const VERSION = '2.6.0';", "const VERSION = '2.7.0';");
  text = edit(text, '        redis: serviceSpec,\n', '');
  text = edit(text, "{ name: 'zenko-mongodb', fsType: 'xfs'", "{ name: 'zenko-mongodb', fsType: 'ext4'");
  text = edit(text, "resources: ['leases'], verbs: ['get', 'create', 'update']", "resources: ['leases'], verbs: ['get', 'create', 'update', 'delete']");
  text = edit(text, "expr: 'sum(redis_up) == 0', for: '5m'", "expr: 'sum(redis_up) == 0', for: '10m'");
  await writeFile(join(copy, 'solution.config.ts'), text);
  const cache = join(dir, 'cache');
  v1 = await packFolder(EXAMPLE, join(dir, 'v1'), cache);
  v2 = await packFolder(copy, join(dir, 'v2'), cache);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(copy, { recursive: true, force: true });
});

describe('diff between two versions of the example', () => {
  it('reports the removed CRD field and the changed StorageClass parameter as breaking', async () => {
    const r = await diff({ oldPath: v1.path, newPath: v2.path });
    expect(r.old).toEqual({ name: 'zenko', version: '2.6.0' });
    expect(r.new).toEqual({ name: 'zenko', version: '2.7.0' });
    const breaking = r.changes.filter((c) => c.breaking).map((c) => `${c.category} ${c.action} ${c.subject}`);
    expect(breaking).toEqual(['crd removed zenkos.zenko.io v1alpha2 spec.redis', 'storageclass changed zenko-mongodb parameters.fsType']);
    expect(r.breaking).toBe(2);
    const other = r.changes.filter((c) => !c.breaking).map((c) => `${c.category} ${c.action} ${c.subject}`);
    expect(other).toEqual(
      expect.arrayContaining([
        'manifest changed spec.version',
        'image changed zenko-operator',
        'permission added Role zenko-operator',
        'alert changed zenko-redis/ZenkoRedisDown',
      ]),
    );
    // The ClusterRole's name carries the version: it is matched across versions, not reported as removed and added.
    expect(r.changes.filter((c) => c.category === 'permission').map((c) => c.message)).toEqual(['Role zenko-operator gains delete coordination.k8s.io/leases']);
    expect(r.changes.find((c) => c.category === 'alert')!.message).toBe('alert zenko-redis/ZenkoRedisDown: for 5m → 10m');
  });

  it('the CLI groups changes by kind, marks BREAKING, and exits 3 with --fail-on-breaking', () => {
    const r = solution('diff', v1.path, v2.path);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('zenko 2.6.0 → zenko 2.7.0');
    expect(r.stdout).toMatch(/^CRDs\n {2}BREAKING {2}field spec\.redis of zenkos\.zenko\.io v1alpha2 removed/m);
    expect(r.stdout).toMatch(/^StorageClasses\n {2}BREAKING {2}StorageClass zenko-mongodb parameter fsType xfs → ext4/m);
    const strict = solution('diff', v1.path, v2.path, '--fail-on-breaking');
    expect(strict.status).toBe(3);
    const same = solution('diff', v1.path, v1.path, '--fail-on-breaking');
    expect(same.status).toBe(0);
    expect(same.stdout).toContain('0 change(s), 0 breaking');
    expect(r.stdout).toContain('operator image zenko-operator:2.6.0 → zenko-operator:2.7.0');
    const json = solution('diff', v1.path, v2.path, '--json');
    const data = JSON.parse(json.stdout.trim()).data;
    expect(data.breaking).toBe(2);
  });

  it('inspect shows the new version and its CRD without the field', () => {
    const r = solution('inspect', v2.path, '--json');
    expect(r.status).toBe(0);
    const data = JSON.parse(r.stdout.trim()).data;
    expect(data.solution.version).toBe('2.7.0');
    expect(data.images).toHaveLength(6);
    expect(data.sizes.imagesDeduplicated).toBeLessThan(data.sizes.images);
  });
});
