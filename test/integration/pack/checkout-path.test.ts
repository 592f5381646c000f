import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PackagingError } from '../../../src/errors.js';
import { buildImage, openBlobStore, writeOciLayout } from '../../../src/packaging/images/index.js';
import { pack, type SdkIndex } from '../../../src/packaging/pack.js';
import { loadSolutionFile } from '../../../src/packaging/solution-file.js';
import { defineSolution } from '../../../src/solution/define-solution.js';
import { builtSolution } from '../../fixtures/solution/base.js';
import { run } from '../images/_servers.js';
import { EPOCH, sh, solution, tempDir } from './_pack.js';

// The same solution packed from two checkouts at different paths gives the same bytes, and no
// build-machine path ships in the ISO. A solution loaded from a folder resolves its inputs there.
let dir: string;
let src: string;

beforeAll(async () => {
  dir = await tempDir('paths');
  src = join(dir, 'a', 'solution');
  await mkdir(join(src, 'vendor'), { recursive: true });
  // An OCI layout and a docker archive made by real tools from a built image.
  const store = await openBlobStore({ dir: join(dir, 'tools-store') });
  const image = await buildImage({ layers: [{ files: [{ path: '/etc/app.conf', content: 'x\n' }] }] }, { store });
  await writeOciLayout([{ image, reference: '2.0.0' }], join(src, 'vendor/oci'), { store });
  await run('skopeo', ['copy', '--insecure-policy', `oci:${join(src, 'vendor/oci')}:2.0.0`, `docker-archive:${join(src, 'vendor/app.tar')}:vendor/app:2.0.0`]);
  await writeFile(join(src, 'acme-operator'), '#!/bin/sh\n');
  await writeFile(
    join(src, 'solution.config.json'),
    JSON.stringify(
      builtSolution([{ path: '/usr/bin/acme-operator', from: 'acme-operator' }], {
        images: [
          { name: 'app-oci', tag: '2.0.0', source: { kind: 'oci-layout', path: 'vendor/oci', reference: '2.0.0' } },
          { name: 'app-tar', tag: '2.0.0', source: { kind: 'docker-archive', path: './vendor/app.tar' } },
        ],
      }),
    ),
  );
}, 120_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('independent of the checkout path', () => {
  it('two checkouts at different paths, fresh caches: byte-identical ISOs, with paths relative to the solution folder', async () => {
    const other = join(dir, 'b', 'a-much-longer-checkout-folder', 'solution');
    await cp(src, other, { recursive: true });
    const one = await pack({ configPath: src, outDir: join(dir, 'out1'), cacheDir: join(dir, 'cache1'), sourceDateEpoch: EPOCH });
    const two = await pack({ configPath: other, outDir: join(dir, 'out2'), cacheDir: join(dir, 'cache2'), sourceDateEpoch: EPOCH });
    expect(two.sha256).toBe(one.sha256);
    expect(Buffer.compare(await readFile(one.path), await readFile(two.path))).toBe(0);
    const index = JSON.parse(solution('iso', 'cat', one.path, 'sdk/index.json').stdout) as SdkIndex;
    expect(index.images.map((i) => [i.name, i.source])).toEqual([
      ['acme-operator', 'build'],
      ['app-oci', 'oci-layout:vendor/oci:2.0.0'],
      ['app-tar', 'docker-archive:vendor/app.tar'],
    ]);
    // No build-machine path anywhere in the image.
    const strings = sh('strings', [one.path]).stdout;
    expect(strings).not.toContain(dir);
  }, 120_000);

  it('pack({ solution }) after loadSolutionFile(dir) resolves inputs from that folder, not the current directory', async () => {
    const { solution: loaded } = await loadSolutionFile(src);
    expect(process.cwd()).not.toBe(src);
    const r = await pack({ solution: loaded, outDir: join(dir, 'out3'), cacheDir: join(dir, 'cache1'), sourceDateEpoch: EPOCH });
    expect(r.images.map((i) => i.name)).toEqual(['acme-operator', 'app-oci', 'app-tar']);
  }, 60_000);

  it('pack({ solution }) of a defined solution with relative paths and no baseDir says so instead of using the cwd', async () => {
    const { solution: loaded } = await loadSolutionFile(src);
    const defined = defineSolution(JSON.parse(JSON.stringify(loaded.definition)));
    const err = await pack({ solution: defined, outDir: join(dir, 'out4'), cacheDir: join(dir, 'cache1') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PackagingError);
    expect((err as PackagingError).code).toBe('PACK_NO_BASE_DIR');
    expect((err as PackagingError).message).toContain('images[0].source.layers[0].files[0].from "acme-operator"');
    const ok = await pack({ solution: defined, baseDir: src, outDir: join(dir, 'out4'), cacheDir: join(dir, 'cache1'), sourceDateEpoch: EPOCH });
    expect(ok.images).toHaveLength(3);
  }, 60_000);
});
