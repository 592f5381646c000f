/** What the writer puts in an image, as the SDK's reader sees it back. */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortError, IsoError } from '../../../../src/errors.js';
import {
  DEFAULT_ISO_TIMESTAMP,
  type IsoEntry,
  type IsoWriteProgress,
  openIso,
  writeIso,
} from '../../../../src/packaging/iso/index.js';
import { removeAbandonedIsoTemp } from '../../../../src/packaging/iso/iso-writer.js';
import { HOST_TAG } from '../../../../src/packaging/_stale-temp.js';
import { writeToBuffer } from './_memory.js';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iso-unit-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

const bytes = (data: string) => ({ kind: 'bytes' as const, data });

describe('writeIso then openIso', () => {
  it('keeps names, types, modes, symlink targets and contents in the Rock Ridge view', async () => {
    const longName = `${'ü'.repeat(120)}.yaml`; // 245 bytes of UTF-8: needs a continuation area
    const longTarget = ['a'.repeat(200), 'b'.repeat(200), 'c'.repeat(200)].join('/'); // several SL entries
    const entries: IsoEntry[] = [
      { path: 'manifest.yaml', type: 'file', source: bytes('kind: Solution\n') },
      { path: 'bin/run.sh', type: 'file', source: bytes('#!/bin/sh\n'), mode: 0o755 },
      { path: 'secret', type: 'directory', mode: 0o700 },
      { path: `docs/${longName}`, type: 'file', source: bytes('long\n') },
      { path: 'links/rel', type: 'symlink', target: '../manifest.yaml' },
      { path: 'links/abs', type: 'symlink', target: '/etc/./hosts' },
      { path: 'links/long', type: 'symlink', target: longTarget },
      { path: 'empty', type: 'file', source: bytes('') },
    ];
    const { bytes: image } = await writeToBuffer({ entries, volumeId: 'T', joliet: false });
    const iso = await openIso(image);
    expect(iso.hasRockRidge).toBe(true);
    expect(iso.hasJoliet).toBe(false);
    const list = await iso.list();
    const byPath = new Map(list.map((e) => [e.path, e]));
    expect([...byPath.keys()]).toEqual([
      'bin',
      'bin/run.sh',
      'docs',
      `docs/${longName}`,
      'empty',
      'links',
      'links/abs',
      'links/long',
      'links/rel',
      'manifest.yaml',
      'secret',
    ]);
    expect(byPath.get('bin/run.sh')?.mode).toBe(0o755);
    expect(byPath.get('manifest.yaml')?.mode).toBe(0o644);
    expect(byPath.get('secret')?.mode).toBe(0o700);
    expect(byPath.get('bin')?.mode).toBe(0o755);
    expect(byPath.get('links/rel')).toMatchObject({ type: 'symlink', target: '../manifest.yaml' });
    expect(byPath.get('links/abs')).toMatchObject({ type: 'symlink', target: '/etc/./hosts' });
    expect(byPath.get('links/long')).toMatchObject({ type: 'symlink', target: longTarget });
    expect((await iso.readFile(`docs/${longName}`)).toString()).toBe('long\n');
    expect((await iso.readFile('empty')).length).toBe(0);
    expect(byPath.get('manifest.yaml')?.mtime.toISOString()).toBe(DEFAULT_ISO_TIMESTAMP.toISOString());
  });

  it('names manifest.yaml MANIFEST.YAML;1 in the primary tree and mangles collisions deterministically', async () => {
    const names = ['manifest.yaml', 'A.txt', 'a.txt', 'a-b.txt', 'x'.repeat(40), `${'y'.repeat(40)}.json`, 'v1.2.3'];
    const entries: IsoEntry[] = names.map((n) => ({ path: n, type: 'file', source: bytes(n) }));
    const first = await writeToBuffer({ entries, volumeId: 'T' });
    const iso = await openIso(first.bytes);
    const primary = (await iso.list({ view: 'primary' })).map((e) => e.name).sort();
    expect(primary).toContain('MANIFEST.YAML;1');
    expect(new Set(primary).size).toBe(names.length);
    for (const n of primary) expect(n).toMatch(/^[A-Z0-9_]{0,30}\.[A-Z0-9_]*;1$/);
    for (const n of primary) expect(n.length - 2).toBeLessThanOrEqual(31);
    // The same names in another order give the same identifiers.
    const second = await writeToBuffer({ entries: [...entries].reverse(), volumeId: 'T' });
    expect(second.bytes.equals(first.bytes)).toBe(true);
    // Every primary name leads to the right content.
    for (const e of await iso.list({ view: 'primary' })) {
      const rr = await iso.list();
      expect(rr.some((r) => r.extents[0]?.lba === e.extents[0]?.lba)).toBe(true);
    }
    expect((await iso.readFile('/manifest.yaml', { view: 'primary' })).toString()).toBe('manifest.yaml');
  });

  it('gives Joliet names up to 103 characters and leaves symlinks out of the Joliet tree', async () => {
    const name = 'j'.repeat(103);
    const { bytes: image } = await writeToBuffer({
      volumeId: 'T',
      entries: [
        { path: name, type: 'file', source: bytes('j') },
        { path: 'a:b?c', type: 'file', source: bytes('forbidden characters') },
        { path: 'l', type: 'symlink', target: name },
      ],
    });
    const iso = await openIso(image);
    const joliet = (await iso.list({ view: 'joliet' })).map((e) => e.path);
    expect(joliet).toEqual(['a_b_c', name]);
  });

  it('stores identical content once: same contentKey, same bytes, same file on disk', async () => {
    const a = path.join(tmp, 'a.bin');
    fs.writeFileSync(a, Buffer.alloc(10_000, 1));
    fs.linkSync(a, path.join(tmp, 'a-link.bin'));
    const stream = (key: string) => ({
      kind: 'stream' as const,
      size: 3000,
      contentKey: key,
      open: async function* () {
        yield Buffer.alloc(3000, key.charCodeAt(0));
      },
    });
    const { bytes: image, result } = await writeToBuffer({
      volumeId: 'T',
      entries: [
        { path: 'k1', type: 'file', source: stream('x') },
        { path: 'k2', type: 'file', source: stream('x') },
        { path: 'k3', type: 'file', source: stream('y') },
        { path: 'b1', type: 'file', source: bytes('same bytes') },
        { path: 'b2', type: 'file', source: bytes('same bytes') },
        { path: 'p1', type: 'file', source: { kind: 'path', path: a } },
        { path: 'p2', type: 'file', source: { kind: 'path', path: path.join(tmp, 'a-link.bin') } },
      ],
    });
    expect(result.files).toBe(7);
    expect(result.extents).toBe(4);
    expect(result.dedupedFiles).toBe(3);
    expect(result.dedupedBytes).toBe(3000 + 10 + 10_000);
    const iso = await openIso(image);
    const lba = new Map((await iso.list()).map((e) => [e.path, e.extents[0]?.lba]));
    expect(lba.get('k1')).toBe(lba.get('k2'));
    expect(lba.get('k1')).not.toBe(lba.get('k3'));
    expect(lba.get('b1')).toBe(lba.get('b2'));
    expect(lba.get('p1')).toBe(lba.get('p2'));
    expect((await iso.readFile('k3')).equals(Buffer.alloc(3000, 'y'.charCodeAt(0)))).toBe(true);
    expect((await iso.readFile('p2')).equals(Buffer.alloc(10_000, 1))).toBe(true);
  });

  it('writes the same bytes for the same input, and the sha256 it reports', async () => {
    const entries = (): IsoEntry[] => [
      { path: 'z/1', type: 'file', source: bytes('1') },
      { path: 'a/2', type: 'file', source: bytes('2') },
      { path: 'm', type: 'symlink', target: 'a/2' },
    ];
    const one = await writeToBuffer({ entries: entries(), volumeId: 'SAME' });
    const two = await writeToBuffer({ entries: entries().reverse(), volumeId: 'SAME' });
    expect(one.bytes.equals(two.bytes)).toBe(true);
    expect(one.result.sha256).toBe(createHash('sha256').update(one.bytes).digest('hex'));
    expect(one.result.size).toBe(one.bytes.length);
  });

  it('reports the sha256 of a 70 MiB image as a separate hash of the file gives', async () => {
    const out = path.join(tmp, 'large.iso');
    const result = await writeIso({
      output: out,
      volumeId: 'T',
      entries: [
        { path: 'a', type: 'file', source: bytes('a'.repeat(40 * 1024 * 1024)) },
        { path: 'b', type: 'file', source: bytes('b'.repeat(30 * 1024 * 1024 + 5)) },
      ],
    });
    const hash = createHash('sha256');
    for await (const chunk of fs.createReadStream(out)) hash.update(chunk as Buffer);
    expect(result.sha256).toBe(hash.digest('hex'));
    fs.rmSync(out);
  });

  it('reads an image from an open file descriptor, which it leaves open', async () => {
    const out = path.join(tmp, 'fd.iso');
    await writeIso({
      output: out,
      volumeId: 'FD',
      entries: [
        { path: 'dir/a.txt', type: 'file', source: bytes('a') },
        { path: 'dir/b.txt', type: 'file', source: bytes('b') },
      ],
    });
    const fd = fs.openSync(out, 'r');
    try {
      const iso = await openIso(fd);
      expect(iso.volumeId).toBe('FD');
      expect((await iso.readdir('dir')).map((e) => e.name)).toEqual(['a.txt', 'b.txt']);
      expect((await iso.readFile('/dir/b.txt')).toString()).toBe('b');
      await iso.close();
      expect(fs.fstatSync(fd).size).toBeGreaterThan(0);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('takes its timestamp from SOURCE_DATE_EPOCH when no timestamp is given', async () => {
    const old = process.env.SOURCE_DATE_EPOCH;
    process.env.SOURCE_DATE_EPOCH = '1700000000';
    try {
      const { bytes: image } = await writeToBuffer({ entries: [{ path: 'f', type: 'file', source: bytes('') }], volumeId: 'T' });
      const [f] = await (await openIso(image)).list();
      expect(f?.mtime.toISOString()).toBe('2023-11-14T22:13:20.000Z');
    } finally {
      if (old === undefined) delete process.env.SOURCE_DATE_EPOCH;
      else process.env.SOURCE_DATE_EPOCH = old;
    }
  });

  it('writes to a path through a temporary file and reports progress up to the total', async () => {
    const out = path.join(tmp, 'out.iso');
    const events: IsoWriteProgress[] = [];
    const result = await writeIso({
      output: out,
      volumeId: 'T',
      entries: [{ path: 'big', type: 'file', source: bytes('x'.repeat(9 * 1024 * 1024)) }],
      onProgress: (e) => events.push(e),
    });
    expect(fs.statSync(out).size).toBe(result.size);
    expect(fs.readdirSync(tmp).filter((n) => n.includes('.tmp'))).toEqual([]);
    expect(events[0]?.phase).toBe('planned');
    expect(events.at(-1)).toEqual({ phase: 'done', bytesWritten: result.size, bytesTotal: result.size });
    const written = events.map((e) => e.bytesWritten);
    expect([...written].sort((a, b) => a - b)).toEqual(written);
  });
});

describe('writeIso over an existing image', () => {
  const image = (text: string, size = 1024 * 1024): IsoEntry[] => [{ path: 'f', type: 'file', source: bytes(text.repeat(size / text.length)) }];

  it('replaces it, and leaves no temporary or moved-aside file', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'over-'));
    const out = path.join(dir, 'a.iso');
    await writeIso({ output: out, volumeId: 'OLD', entries: image('old ') });
    const result = await writeIso({ output: out, volumeId: 'NEW', entries: image('new ') });
    expect(createHash('sha256').update(fs.readFileSync(out)).digest('hex')).toBe(result.sha256);
    expect((await openIso(out)).volumeId).toBe('NEW');
    expect(fs.readdirSync(dir)).toEqual(['a.iso']);
  });

  it('keeps the old image whole when the new one fails half-way', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'over-'));
    const out = path.join(dir, 'a.iso');
    await writeIso({ output: out, volumeId: 'OLD', entries: image('old ') });
    const before = fs.readFileSync(out);
    const failing = async function* () {
      yield new Uint8Array(4 * 1024 * 1024);
      throw new Error('source went away');
    };
    const err = await writeIso({
      output: out,
      volumeId: 'NEW',
      entries: [{ path: 'f', type: 'file', source: { kind: 'stream', size: 8 * 1024 * 1024, open: failing } }],
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('source went away');
    expect(fs.readFileSync(out).equals(before)).toBe(true);
    expect(fs.readdirSync(dir)).toEqual(['a.iso']);
  });

  it('a later write puts back an old image moved aside by a writer killed between its two renames', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'over-'));
    const out = path.join(dir, 'a.iso');
    // The pid of a process that has exited: the writer is gone.
    const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const aside = path.join(dir, `.a.iso.${child.stdout}.${Date.now()}.${HOST_TAG}.old.tmp`);
    fs.writeFileSync(aside, 'the old image');
    expect(removeAbandonedIsoTemp(out)).toBe(0);
    expect(fs.readFileSync(out, 'utf8')).toBe('the old image');
    expect(fs.readdirSync(dir)).toEqual(['a.iso']);
    // With the target in place, a moved-aside copy is only removed.
    fs.writeFileSync(aside, 'older');
    expect(removeAbandonedIsoTemp(out)).toBe(1);
    expect(fs.readFileSync(out, 'utf8')).toBe('the old image');
    expect(fs.readdirSync(dir)).toEqual(['a.iso']);
  });

  it('still refuses a folder in the way, and leaves it as it was', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'over-'));
    const out = path.join(dir, 'a.iso');
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'keep'), 'x');
    await expect(writeIso({ output: out, volumeId: 'NEW', entries: image('new ') })).rejects.toThrow();
    expect(fs.readdirSync(out)).toEqual(['keep']);
    expect(fs.readdirSync(dir)).toEqual(['a.iso']);
  });
});

describe('writeIso refuses impossible input with a typed error', () => {
  const fails = async (entries: IsoEntry[], code: string, extra: { volumeId?: string } = {}) => {
    const err = await writeToBuffer({ entries, volumeId: extra.volumeId ?? 'T' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IsoError);
    expect((err as IsoError).code).toBe(code);
    expect((err as IsoError).hint).toBeTruthy();
    return err as IsoError;
  };

  it('a path deeper than 64 levels (deeper than 8 is written, with a warning)', async () => {
    const warnings: string[] = [];
    await writeToBuffer({ entries: [{ path: 'a/b/c/d/e/f/g/h/i/file', type: 'file', source: bytes('') }], volumeId: 'T', onWarning: (w) => warnings.push(`${w.code} ${w.path}`) });
    expect(warnings).toEqual(['ISO_DEEP_PATH a/b/c/d/e/f/g']);
    const deep = `${Array.from({ length: 64 }, (_, i) => `d${i}`).join('/')}/file`;
    const err = await fails([{ path: deep, type: 'file', source: bytes('') }], 'ISO_DEPTH_EXCEEDED');
    expect(err.message).toContain('d63/file');
  });

  it('a duplicate path', async () => {
    const err = await fails(
      [
        { path: 'x/y', type: 'file', source: bytes('1') },
        { path: 'x//y/', type: 'file', source: bytes('2') },
      ],
      'ISO_DUPLICATE_PATH',
    );
    expect(err.message).toContain('x//y/');
  });

  it('a name too long for Joliet is cut there, with a warning, and kept whole in Rock Ridge', async () => {
    const warnings: string[] = [];
    await writeToBuffer({ entries: [{ path: `d/${'n'.repeat(104)}.json`, type: 'file', source: bytes('') }], volumeId: 'T', onWarning: (w) => warnings.push(w.code) });
    expect(warnings).toEqual(['ISO_JOLIET_NAME_CUT']);
  });

  it('a streamed source shorter or longer than declared', async () => {
    const source = (size: number, actual: number) => ({
      kind: 'stream' as const,
      size,
      open: async function* () {
        yield Buffer.alloc(actual);
      },
    });
    await fails([{ path: 'short', type: 'file', source: source(10, 5) }], 'ISO_SOURCE_SIZE_MISMATCH');
    await fails([{ path: 'long', type: 'file', source: source(10, 11) }], 'ISO_SOURCE_SIZE_MISMATCH');
  });

  it('a volume id over 32 bytes, a bad path, a bad mode', async () => {
    await fails([], 'ISO_INVALID_IDENTIFIER', { volumeId: 'v'.repeat(33) });
    await fails([{ path: 'a/../b', type: 'file', source: bytes('') }], 'ISO_INVALID_PATH');
    await fails([{ path: 'a', type: 'file', source: bytes(''), mode: 0o10000 }], 'ISO_INVALID_MODE');
    await fails(
      [
        { path: 'f', type: 'file', source: bytes('') },
        { path: 'f/g', type: 'file', source: bytes('') },
      ],
      'ISO_NOT_A_DIRECTORY',
    );
  });

  it('a path source that is missing, and leaves no output file behind', async () => {
    const out = path.join(tmp, 'missing.iso');
    const err = await writeIso({
      output: out,
      volumeId: 'T',
      entries: [{ path: 'f', type: 'file', source: { kind: 'path', path: path.join(tmp, 'nope') } }],
    }).catch((e: unknown) => e);
    expect((err as IsoError).code).toBe('ISO_SOURCE_UNREADABLE');
    expect(fs.existsSync(out)).toBe(false);
  });

  it('a path source with its stats given: the same image, hard links found; a file that changed since fails', async () => {
    const a = path.join(tmp, 'stats-a.bin');
    fs.writeFileSync(a, Buffer.alloc(5000, 7));
    fs.rmSync(path.join(tmp, 'stats-b.bin'), { force: true });
    fs.linkSync(a, path.join(tmp, 'stats-b.bin'));
    const entries = (withStats: boolean): IsoEntry[] =>
      ['stats-a.bin', 'stats-b.bin'].map((name) => {
        const p = path.join(tmp, name);
        return { path: name, type: 'file' as const, source: { kind: 'path' as const, path: p, ...(withStats ? { stats: fs.lstatSync(p) } : {}) } };
      });
    const plain = await writeToBuffer({ entries: entries(false), volumeId: 'T' });
    const hinted = await writeToBuffer({ entries: entries(true), volumeId: 'T' });
    expect(hinted.bytes.equals(plain.bytes)).toBe(true);
    expect(hinted.result.dedupedFiles).toBe(1);

    const stale = entries(true);
    fs.appendFileSync(a, 'grown after stat');
    const out = path.join(tmp, 'stale-stats.iso');
    const err = await writeIso({ output: out, volumeId: 'T', entries: stale }).catch((e: unknown) => e);
    expect((err as IsoError).code).toBe('ISO_SOURCE_SIZE_MISMATCH');
    expect((err as IsoError).message).toMatch(/stats-a\.bin.*more bytes.*5000 bytes were declared/);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('a path source with `expect`: written while the file is the one checked, refused once it was touched or replaced', async () => {
    const f = path.join(tmp, 'expect.bin');
    fs.writeFileSync(f, Buffer.alloc(70_000, 3));
    const entry = (expect: fs.BigIntStats): IsoEntry[] => [{ path: 'expect.bin', type: 'file', source: { kind: 'path', path: f, expect } }];
    const checked = fs.statSync(f, { bigint: true });
    const plain = await writeToBuffer({ entries: [{ path: 'expect.bin', type: 'file', source: { kind: 'path', path: f } }], volumeId: 'T' });
    expect((await writeToBuffer({ entries: entry(checked), volumeId: 'T' })).bytes.equals(plain.bytes)).toBe(true);
    const refused = async (what: RegExp) => {
      const out = path.join(tmp, 'expect.iso');
      const err = await writeIso({ output: out, volumeId: 'T', entries: entry(checked) }).catch((e: unknown) => e);
      expect((err as IsoError).code).toBe('ISO_SOURCE_CHANGED');
      expect((err as IsoError).message).toMatch(what);
      expect(fs.existsSync(out)).toBe(false);
    };
    // Same size, same bytes, same modification time: only the change time moved (chmod).
    fs.chmodSync(f, 0o600);
    await refused(/expect\.bin.*as opened is not the file that was checked/);
    // The same bytes renamed in its place: another inode.
    fs.writeFileSync(`${f}.new`, Buffer.alloc(70_000, 3));
    fs.renameSync(`${f}.new`, f);
    await refused(/expect\.bin/);
  });

  it('stops on abort and removes the partial file', async () => {
    const out = path.join(tmp, 'aborted.iso');
    const controller = new AbortController();
    const err = await writeIso({
      output: out,
      volumeId: 'T',
      entries: [{ path: 'big', type: 'file', source: bytes('x'.repeat(32 * 1024 * 1024)) }],
      onProgress: (e) => {
        if (e.phase === 'writing') controller.abort();
      },
      signal: controller.signal,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.readdirSync(tmp).filter((n) => n.startsWith('.aborted'))).toEqual([]);
  });
});
