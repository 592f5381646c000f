/**
 * The node-side oracle of the corpus' StorageClass cases: what MetalK8s does on the node with a
 * StorageClass, done for real. `mkfs.<fsType>` runs with MetalK8s' own argument list (no shell:
 * `-F -U <uuid> <mkfsOptions> <path>` for ext4, `-f -m uuid=<uuid> <mkfsOptions> <path>` for xfs,
 * salt/_modules/metalk8s_volumes.py) on a sparse file of the volume's size, then the filesystem is
 * mounted with the class' mount options joined by commas, as kubelet does (`mount -t <fs> -o …`),
 * through a loop device this test attaches and always detaches. Only sparse files in a
 * temporary folder are touched; never a disk of the host.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sizeInBytes, validateSolution } from '../../../src/index.js';
import { baseSolution } from '../../fixtures/solution/base.js';
import { brokenCases, validCases } from '../../fixtures/solution/corpus.js';

const dir = mkdtempSync(join(tmpdir(), 'storage-oracle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Cases settled on the node: mount and mkfs options, and sizes mkfs refuses. */
const NODE_CODES = new Set(['MOUNT_OPTION_UNKNOWN', 'MOUNT_OPTION_WRONG_FS', 'MOUNT_OPTION_INVALID', 'MKFS_OPTION_SHELL', 'MKFS_OPTION_UNKNOWN', 'SIZE_TOO_SMALL']);
const broken = brokenCases.filter((c) => NODE_CODES.has(c.code));
const valid = validCases.filter((c) => c.id.startsWith('storage-options-'));

function run(cmd: string, args: string[]): { ok: boolean; output: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}`.trim() };
}

/** Formats and mounts like MetalK8s and kubelet; the reason of the first failure, or undefined. */
function onTheNode(mutate: (s: Record<string, any>) => void): string | undefined {
  const s = baseSolution();
  mutate(s);
  const sc = s.storageClasses[0] as { fsType: 'ext4' | 'xfs'; mkfsOptions?: string[]; mountOptions?: string[] };
  const bytes = sizeInBytes(s.components[0].volumes[0].size);
  if (bytes === undefined) throw new Error('the case has no size mkfs could use');
  const file = join(dir, `${randomUUID()}.img`);
  writeFileSync(file, '');
  truncateSync(file, bytes);
  const uuid = randomUUID();
  const mkfs = sc.fsType === 'ext4' ? ['-F', '-q', '-U', uuid] : ['-f', '-q', '-m', `uuid=${uuid}`];
  const made = run(`mkfs.${sc.fsType}`, [...mkfs, ...(sc.mkfsOptions ?? []), file]);
  if (!made.ok) return `mkfs: ${made.output}`;
  const loop = execFileSync('losetup', ['--find', '--show', file], { encoding: 'utf8' }).trim();
  const mnt = join(dir, `mnt-${uuid}`);
  mkdirSync(mnt);
  try {
    const mounted = run('mount', ['-t', sc.fsType, '-o', (sc.mountOptions ?? ['rw', 'discard']).join(','), loop, mnt]);
    if (!mounted.ok) return `mount: ${mounted.output}`;
    run('umount', [mnt]);
    return undefined;
  } finally {
    run('umount', [mnt]);
    execFileSync('losetup', ['-d', loop]);
    rmSync(file, { force: true });
  }
}

describe('StorageClass options and sizes on a real node: mkfs and mount', () => {
  it('loop devices and both mkfs tools are there (root, util-linux, e2fsprogs, xfsprogs)', () => {
    for (const tool of ['losetup', 'mount', 'mkfs.ext4', 'mkfs.xfs'])
      expect(run('sh', ['-c', `command -v ${tool}`]).ok, `${tool} is missing: install util-linux, e2fsprogs and xfsprogs`).toBe(true);
    expect(process.getuid?.(), 'this test attaches loop devices: it must run as root').toBe(0);
  });

  it('the base solution formats and mounts', () => {
    expect(onTheNode(() => {})).toBeUndefined();
  });

  it.each(broken)('$id: the node refuses it, validate reports $code', (c) => {
    const refused = onTheNode(c.mutate);
    expect(refused, `${c.id} formatted and mounted`).toBeDefined();
    // Refused by the step the rule is about.
    expect(refused).toMatch(c.code.startsWith('MOUNT_') ? /^mount: / : /^mkfs: /);
    const s = baseSolution();
    c.mutate(s);
    expect(validateSolution(s).issues.map((i) => i.code)).toContain(c.code);
  });

  it.each(valid)('$id: formats and mounts, and validates without issue', (c) => {
    expect(onTheNode(c.mutate)).toBeUndefined();
    const s = baseSolution();
    c.mutate(s);
    expect(validateSolution(s).issues).toEqual([]);
  });
});
