import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { attachLoopDisks } from '../../../src/testing/_storage-loop.js';

const attached = (): string => execFileSync('losetup', ['-a'], { encoding: 'utf8' });

describe('loop disks for emulated nodes', () => {
  it('attaches sparse-file disks with the content asked, and detaches them all', async () => {
    const disks = await attachLoopDisks([
      { node: 'a', sizeBytes: 400 * 2 ** 20, content: 'xfs' },
      { node: 'a', sizeBytes: 64 * 2 ** 20, content: 'gpt' },
      { node: 'b', sizeBytes: 64 * 2 ** 20 },
    ]);
    try {
      expect(disks.devicesOf('a')).toHaveLength(2);
      expect(disks.devicesOf('b')).toHaveLength(1);
      const [xfs, gpt] = disks.devicesOf('a') as [string, string];
      expect(execFileSync('blkid', ['-p', '-o', 'value', '-s', 'TYPE', xfs], { encoding: 'utf8' }).trim()).toBe('xfs');
      expect(existsSync(`${gpt}p1`)).toBe(true);
      expect(attached()).toContain(disks.disks[0]?.backingFile);
    } finally {
      await disks.release();
    }
    for (const d of disks.disks) expect(attached()).not.toContain(d.backingFile);
  });

  it('detaches what it attached when preparing a disk fails', async () => {
    const before = attached();
    // xfs refuses filesystems under 300 MB: the second disk fails after the first is attached.
    await expect(
      attachLoopDisks([
        { node: 'a', sizeBytes: 64 * 2 ** 20 },
        { node: 'a', sizeBytes: 64 * 2 ** 20, content: 'xfs' },
      ]),
    ).rejects.toThrow(/mkfs.xfs/);
    expect(attached()).toBe(before);
  });

  it('fails with the reason, not a skip, without root', () => {
    const script = "import('./dist/testing/index.js').then((m) => m.startMetalK8s({ disks: [] })).then(() => process.exit(0), (e) => { console.error(e.message); process.exit(3); })";
    if (!existsSync('dist/testing/index.js')) throw new Error('dist/ is missing: run `npm run build` first');
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script], { encoding: 'utf8' });
    expect(r.status).toBe(3);
    expect(r.stderr).toContain('storage tests need root to attach loop devices');
  });
});
