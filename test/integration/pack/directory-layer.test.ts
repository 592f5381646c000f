import { execFileSync } from 'node:child_process';
import { chmod, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateSolution } from '../../../src/solution/validate.js';
import { packFolder, tempDir } from './_pack.js';

let dir: string;
beforeAll(async () => {
  dir = await tempDir('dir-layer');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const definition = (prefix: string) => ({
  name: 'folder',
  version: '1.0.0',
  operator: { image: 'folder-operator' },
  images: [
    {
      name: 'folder-operator',
      tag: '1.0.0',
      source: {
        kind: 'build',
        layers: [{ directory: 'rootfs' }, { directory: 'web', prefix }],
      },
    },
  ],
});

/** A solution folder; `fileMode`/`exeMode` play a checkout made with another umask. */
async function solutionFolder(name: string, fileMode: number, exeMode: number): Promise<string> {
  const root = join(dir, name);
  await mkdir(join(root, 'rootfs/usr/local/bin'), { recursive: true });
  await mkdir(join(root, 'web/css'), { recursive: true });
  await writeFile(join(root, 'rootfs/usr/local/bin/folder-operator'), '#!/bin/sh\necho run\n');
  await chmod(join(root, 'rootfs/usr/local/bin/folder-operator'), exeMode);
  await writeFile(join(root, 'web/index.html'), '<h1>hi</h1>\n');
  await chmod(join(root, 'web/index.html'), fileMode);
  await writeFile(join(root, 'web/css/site.css'), 'h1{}\n');
  await chmod(join(root, 'web/css/site.css'), fileMode);
  await symlink('index.html', join(root, 'web/home.html'));
  await writeFile(join(root, 'solution.config.json'), JSON.stringify(definition('/srv/www')));
  return root;
}

describe('directory layers in a solution file', () => {
  it('packs a folder layer in sorted order with git-like modes, the same ISO from checkouts with different modes and paths', async () => {
    const a = await solutionFolder('a', 0o600, 0o700);
    const b = await solutionFolder('b', 0o664, 0o775);
    const ra = await packFolder(a, join(dir, 'out-a'), join(dir, 'cache-a'));
    const rb = await packFolder(b, join(dir, 'out-b'), join(dir, 'cache-b'));
    expect(rb.sha256).toBe(ra.sha256);
    const layers = ra.images[0]!.layers;
    expect(layers).toHaveLength(2);
    const list = (digest: string) =>
      execFileSync('tar', ['-tvzf', join(dir, 'cache-a/blobs/sha256', digest.slice(7))], { encoding: 'utf8' })
        .trim()
        .split('\n')
        .map((l) => l.replace(/\s+/g, ' ').replace(/ 1970-01-01 00:00/, ''));
    expect(list(layers[0]!.digest)).toEqual([
      'drwxr-xr-x 0/0 0 usr/',
      'drwxr-xr-x 0/0 0 usr/local/',
      'drwxr-xr-x 0/0 0 usr/local/bin/',
      '-rwxr-xr-x 0/0 19 usr/local/bin/folder-operator',
    ]);
    expect(list(layers[1]!.digest)).toEqual([
      'drwxr-xr-x 0/0 0 srv/',
      'drwxr-xr-x 0/0 0 srv/www/',
      'drwxr-xr-x 0/0 0 srv/www/css/',
      '-rw-r--r-- 0/0 5 srv/www/css/site.css',
      'lrwxrwxrwx 0/0 0 srv/www/home.html -> index.html',
      '-rw-r--r-- 0/0 12 srv/www/index.html',
    ]);
  });

  it('names a relative prefix and a missing folder', async () => {
    const report = validateSolution(definition('srv/www'));
    expect(report.issues).toEqual(
      expect.arrayContaining([expect.objectContaining({ code: 'BUILD_PATH_INVALID', path: 'images[0].source.layers[1].prefix', severity: 'error' })]),
    );
    const root = join(dir, 'missing');
    await mkdir(root, { recursive: true });
    await writeFile(join(root, 'solution.config.json'), JSON.stringify(definition('/srv')));
    const err = await packFolder(root, join(dir, 'out-m'), join(dir, 'cache-m')).catch((e: unknown) => e);
    // The input check names the field before anything is fetched or built.
    expect((err as { issues?: unknown[] }).issues).toEqual(
      expect.arrayContaining([expect.objectContaining({ code: 'INPUT_NOT_FOUND', path: 'images[0].source.layers[0].directory', severity: 'error' })]),
    );
    // A folder outside the solution folder is refused unless allowed.
    const outside = join(dir, 'outside-sol');
    await mkdir(join(dir, 'elsewhere'), { recursive: true });
    await mkdir(outside, { recursive: true });
    await writeFile(join(outside, 'solution.config.json'), JSON.stringify({ ...definition('/srv'), images: [{ ...definition('/srv').images[0], source: { kind: 'build', layers: [{ directory: '../elsewhere' }] } }] }));
    const refused = await packFolder(outside, join(dir, 'out-o'), join(dir, 'cache-m')).catch((e: unknown) => e);
    expect((refused as { issues?: unknown[] }).issues).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'INPUT_OUTSIDE_SOLUTION' })]));
  });
});
