import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, openBlobStore, writeOciLayout } from '../../../src/packaging/images/index.js';
import { tempDir } from './_servers.js';

const pexec = promisify(execFile);
const cli = new URL('../../../dist/cli.js', import.meta.url).pathname;

async function solution(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await pexec('node', [cli, ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

let dir: string;
beforeAll(async () => {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run npm run build (npm test does it)`);
  dir = await tempDir('cli');
  const store = await openBlobStore({ dir: join(dir, 'src') });
  const image = await buildImage({ layers: [{ files: [{ path: '/hello', content: 'hi' }] }] }, { store });
  await writeOciLayout([{ image, reference: '1.0' }], join(dir, 'oci'), { store });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('solution images', () => {
  it('layout writes the MetalK8s tree from an OCI layout, with JSON events', async () => {
    const out = join(dir, 'root');
    const r = await solution(['images', 'layout', out, '--store', join(dir, 'store'), '--json', '-i', `hello:1.0=oci:${join(dir, 'oci')}:1.0`]);
    expect(r.code).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const result = events.find((e) => e.type === 'result');
    expect(result.data.images[0]).toMatchObject({ name: 'hello', tag: '1.0' });
    expect((await readdir(join(out, 'images/hello/1.0'))).length).toBe(4);
    expect(await readFile(join(out, 'registry-config.inc.j2'), 'utf8')).toContain(result.data.images[0].manifestDigest);
  });

  it('verify hashes every blob of the store, removes a damaged one and fails, then the store is whole again', async () => {
    const storeDir = join(dir, 'store-verify');
    const store = await openBlobStore({ dir: storeDir });
    const kept = await store.put(Buffer.alloc(3 << 20, 1));
    const hurt = await store.put(Buffer.alloc(2 << 20, 2));
    const ok = await solution(['images', 'verify', '--store', storeDir]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^2 blobs, 5\.0 MiB hashed: all intact/);
    // One byte changed, and the file's modification time set back: its trust record does not
    // matter here, every blob is hashed.
    const { atime, mtime } = await stat(store.path(hurt.digest));
    const bytes = await readFile(store.path(hurt.digest));
    bytes[1000]! ^= 1;
    await writeFile(store.path(hurt.digest), bytes);
    await utimes(store.path(hurt.digest), atime, mtime);
    const bad = await solution(['images', 'verify', '--store', storeDir, '--json']);
    expect(bad.code).toBe(1);
    const result = bad.stdout.trim().split('\n').map((l) => JSON.parse(l)).find((e) => e.type === 'result');
    expect(result.data).toEqual({ blobs: 2, bytes: 5 << 20, damaged: [hurt.digest] });
    expect(await store.has(hurt.digest)).toBe(false);
    expect(await store.trusted(kept.digest)).toBeDefined();
    expect((await solution(['images', 'verify', '--store', storeDir])).code).toBe(0);
  });

  it('pull of several images reports them in the order given, and names the one that fails', async () => {
    const src = await openBlobStore({ dir: join(dir, 'src') });
    const layouts: string[] = [];
    for (let i = 0; i < 4; i++) {
      const image = await buildImage({ layers: [{ files: [{ path: `/f${i}`, content: `image ${i}` }] }] }, { store: src });
      await writeOciLayout([{ image, reference: '1.0' }], join(dir, `many-${i}`), { store: src });
      layouts.push(`oci:${join(dir, `many-${i}`)}:1.0`);
    }
    const storeDir = join(dir, 'store-many');
    const r = await solution(['images', 'pull', '--store', storeDir, '--json', ...layouts]);
    expect(r.code, r.stderr).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(events.find((e) => e.type === 'result').data.map((x: { source: string }) => x.source)).toEqual(layouts);
    expect(events.filter((e) => e.type === 'image-done')).toHaveLength(4);
    // One missing source among others: the command fails, naming it; nothing is reported as pulled.
    const bad = await solution(['images', 'pull', '--store', join(dir, 'store-many-bad'), layouts[0]!, `oci:${join(dir, 'nope')}`, layouts[1]!]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(join(dir, 'nope'));
    expect(bad.stderr).toMatch(/\[OCI_LAYOUT_NOT_FOUND\]/);
    expect(bad.stdout).toBe('');
  });

  it('explains a bad --image and a missing source without a stack trace', async () => {
    const bad = await solution(['images', 'layout', join(dir, 'x'), '--store', join(dir, 'store'), '-i', 'nonsense']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/name:tag=source/);
    const missing = await solution(['images', 'pull', '--store', join(dir, 'store'), `oci:${join(dir, 'nope')}`]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/does not exist \[OCI_LAYOUT_NOT_FOUND\]/);
    expect(missing.stderr).toMatch(/hint:/);
    expect(missing.stderr).not.toMatch(/\n\s+at /);
  });
});
