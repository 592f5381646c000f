import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryCommonConfig, renderRegistryConfig } from '../../../src/packaging/images/registry-layout.js';
import type { PackResult } from '../../../src/packaging/pack.js';
import { builtSolution } from '../../fixtures/solution/base.js';
import { packFolder, solution } from '../pack/_pack.js';
import { type Containerd, METALK8S_REGISTRY, missingTool, pullArgs, startContainerd } from './_containerd.js';
import { run, type StaticRegistry, startNginx, tempDir } from './_servers.js';

// Acceptance: a built image's `from:` entrypoint keeps its execute bit and really runs. The ISO is
// packed, extracted, served by nginx with the rendered registry snippet (as MetalK8s serves it),
// pulled by a real containerd through the MetalK8s registry name, and started with `ctr run`.
let dir: string;
let packed: PackResult;
let nginx: StaticRegistry;
let ctrd: Containerd;

const HELLO_C = `#include <stdio.h>
int main(int argc, char **argv) { printf("acme-operator started with %s\\n", argc > 1 ? argv[1] : "no arguments"); return 0; }
`;

beforeAll(async () => {
  const missing = missingTool();
  if (missing) throw new Error(`${missing} is missing: install containerd, runc and gcc (.ci/apt/safety.txt)`);
  dir = await tempDir('ctr');
  const src = join(dir, 'solution');
  await mkdir(join(src, 'bin'), { recursive: true });
  await writeFile(join(src, 'hello.c'), HELLO_C);
  await run('gcc', ['-static', '-O2', '-o', join(src, 'bin', 'acme-operator'), join(src, 'hello.c')]);
  await chmod(join(src, 'bin', 'acme-operator'), 0o755);
  await writeFile(join(src, 'files.conf'), 'level: info\n');
  await chmod(join(src, 'files.conf'), 0o664);
  await writeFile(
    join(src, 'solution.config.json'),
    JSON.stringify(
      builtSolution(
        [
          // No mode given: the source's (executable) mode must be kept.
          { path: '/usr/local/bin/acme-operator', from: 'bin/acme-operator' },
          { path: '/etc/acme/acme.conf', from: 'files.conf' },
        ],
        { version: '1.2.0', config: { entrypoint: ['/usr/local/bin/acme-operator'], cmd: ['--config=/etc/config/operator.yaml'] } },
      ),
    ),
  );
  packed = await packFolder(src, join(dir, 'out'), join(dir, 'cache'));
  const root = join(dir, 'extracted');
  const r = solution('iso', 'extract', packed.path, root);
  expect(r.status, r.stderr).toBe(0);
  const template = await readFile(join(root, 'registry-config.inc.j2'), 'utf8');
  nginx = await startNginx(renderRegistryConfig(template, { repository: packed.id, registryRoot: join(root, 'images') }), registryCommonConfig());
  ctrd = await startContainerd();
  await ctrd.mirror(nginx.host);
}, 180_000);

afterAll(async () => {
  await ctrd?.stop();
  await nginx?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const ref = () => `${METALK8S_REGISTRY}/${packed.id}/acme-operator:1.2.0`;

describe('a built image pulled and run by containerd', () => {
  it('is pulled from the static registry and its unpacked entrypoint is 0755, other files 0644', async () => {
    await ctrd.ctr(pullArgs(ctrd, ref()));
    const mnt = join(dir, 'mnt');
    await mkdir(mnt, { recursive: true });
    await ctrd.ctr(['image', 'mount', ref(), mnt]);
    try {
      expect(((await stat(join(mnt, 'usr/local/bin/acme-operator'))).mode & 0o7777).toString(8)).toBe('755');
      // A 0664 source is written 0644: modes do not depend on the checkout's umask.
      expect(((await stat(join(mnt, 'etc/acme/acme.conf'))).mode & 0o7777).toString(8)).toBe('644');
    } finally {
      await ctrd.ctr(['image', 'unmount', mnt]);
    }
  });

  it('runs its entrypoint with `ctr run`', async (ctx) => {
    const why = await ctrd.cannotRun();
    if (why) {
      // docs/testing.md: where namespaces or cgroups are missing, the mount check above is as far as containerd goes.
      console.log(`skipping ctr run: containerd cannot run any container on this machine: ${why}`);
      ctx.skip();
      return;
    }
    await ctrd.ctr(pullArgs(ctrd, ref()));
    const out = await ctrd.ctr(['run', '--rm', ref(), 'acme-operator-run']);
    expect(out.trim()).toBe('acme-operator started with --config=/etc/config/operator.yaml');
  });
});
