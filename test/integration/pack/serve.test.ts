import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryCommonConfig, renderRegistryConfig } from '../../../src/packaging/images/registry-layout.js';
import type { PackResult, SdkIndex } from '../../../src/packaging/pack.js';
import { run, startNginx } from '../images/_servers.js';
import { EXAMPLE, packFolder, sh, solution, tempDir } from './_pack.js';

// Acceptance: the packed example's images are served by real nginx with the rendered snippet
// (as MetalK8s does) and pulled by skopeo, from an extraction and from a FUSE mount.
let dir: string;
let packed: PackResult;
let index: SdkIndex;

beforeAll(async () => {
  dir = await tempDir('serve');
  packed = await packFolder(EXAMPLE, join(dir, 'out'), join(dir, 'cache'));
  index = JSON.parse(solution('iso', 'cat', packed.path, 'sdk/index.json').stdout) as SdkIndex;
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Serves `<root>/images` with nginx and pulls every image with skopeo; returns the digests skopeo saw. */
async function serveAndPull(root: string, label: string): Promise<Map<string, string>> {
  const template = await readFile(join(root, 'registry-config.inc.j2'), 'utf8');
  const snippet = renderRegistryConfig(template, { repository: packed.id, registryRoot: join(root, 'images') });
  const nginx = await startNginx(snippet, registryCommonConfig());
  const seen = new Map<string, string>();
  try {
    for (const img of index.images) {
      const ref = `docker://${nginx.host}/${packed.id}/${img.name}:${img.tag}`;
      await run('skopeo', ['copy', '--src-tls-verify=false', ref, `oci:${join(dir, `pulled-${label}`)}:${img.name}-${img.tag}`]);
      const info = JSON.parse(await run('skopeo', ['inspect', '--tls-verify=false', ref])) as { Digest: string };
      seen.set(`${img.name}:${img.tag}`, info.Digest);
    }
  } finally {
    await nginx.stop();
  }
  return seen;
}

describe('the packed example served as MetalK8s serves it', () => {
  it('nginx serves every image out of an extraction and skopeo pulls it with the digest in /sdk/index.json', async () => {
    const root = join(dir, 'extracted');
    const r = solution('iso', 'extract', packed.path, root);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const seen = await serveAndPull(root, 'extracted');
    expect(seen.size).toBe(6);
    for (const img of index.images) expect(seen.get(`${img.name}:${img.tag}`)).toBe(img.manifestDigest);
  });

  it('the same out of a fuseiso mount, where FUSE works', async (ctx) => {
    if (!existsSync('/dev/fuse')) {
      console.log('skipping the fuseiso part: /dev/fuse is absent on this machine');
      ctx.skip();
      return;
    }
    const mnt = join(dir, 'mnt');
    await mkdir(mnt, { recursive: true });
    const m = sh('fuseiso', [packed.path, mnt, '-o', 'allow_other']);
    if (m.status !== 0) {
      console.log(`skipping the fuseiso part: fuseiso could not mount (${m.stderr.trim()})`);
      ctx.skip();
      return;
    }
    try {
      const seen = await serveAndPull(mnt, 'fuse');
      for (const img of index.images) expect(seen.get(`${img.name}:${img.tag}`)).toBe(img.manifestDigest);
    } finally {
      sh('fusermount', ['-u', mnt]);
    }
  });
});
