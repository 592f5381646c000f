/** The reader against damaged and crafted images: typed errors, never a crash or a hang. */
import { describe, expect, it } from 'vitest';
import { IsoError } from '../../../../src/errors.js';
import { type IsoEntry, openIso } from '../../../../src/packaging/iso/index.js';
import { fuzz, readEverything } from '../../../fixtures/iso/fuzz.js';
import { writeToBuffer } from './_memory.js';

const entries: IsoEntry[] = [
  { path: 'manifest.yaml', type: 'file', source: { kind: 'bytes', data: 'kind: Solution\n' } },
  { path: 'sub/deeper/file.txt', type: 'file', source: { kind: 'bytes', data: 'x'.repeat(5000) } },
  { path: `sub/${'l'.repeat(100)}`, type: 'file', source: { kind: 'bytes', data: 'long' } },
  { path: 'sub/link', type: 'symlink', target: `../${'t'.repeat(300)}` },
  { path: 'empty', type: 'directory' },
];

async function image(): Promise<Buffer> {
  return (await writeToBuffer({ entries, volumeId: 'HOSTILE' })).bytes;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(IsoError);
  return (err as IsoError).code;
}

function setBoth32(buf: Buffer, off: number, value: number): void {
  buf.writeUInt32LE(value, off);
  buf.writeUInt32BE(value, off + 4);
}

/** Offset of the directory record in `dirLba` whose extent is `childLba`. */
function recordPointingTo(buf: Buffer, dirLba: number, childLba: number): number {
  for (let off = dirLba * 2048; off < (dirLba + 1) * 2048 && buf[off]! > 0; off += buf[off]!) {
    if (buf.readUInt32LE(off + 2) === childLba && buf[off + 32]! > 1) return off;
  }
  throw new Error('record not found');
}

describe('openIso on damaged images', () => {
  it('refuses a file that is not an ISO image', async () => {
    expect(await codeOf(openIso(Buffer.alloc(100_000, 0x41)))).toBe('ISO_NOT_ISO9660');
    expect(await codeOf(openIso(Buffer.alloc(1000)))).toBe('ISO_NOT_ISO9660');
  });

  it('reports a directory that points back to its parent as a loop', async () => {
    const buf = await image();
    const iso = await openIso(buf);
    const sub = await iso.stat('sub');
    const deeper = await iso.stat('sub/deeper');
    const off = recordPointingTo(buf, sub.extents[0]!.lba, deeper.extents[0]!.lba);
    setBoth32(buf, off + 2, sub.extents[0]!.lba);
    expect(await codeOf(readEverything(buf))).toBe('ISO_DIRECTORY_LOOP');
  });

  it('reports an absurd directory size without trying to read it', async () => {
    const buf = await image();
    setBoth32(buf, 16 * 2048 + 156 + 10, 0xfffff000);
    const iso = await openIso(buf);
    expect(await codeOf(iso.list())).toBe('ISO_MALFORMED');
  });

  it('reports a truncated image when a file lies past its end', async () => {
    const buf = await image();
    const iso = await openIso(buf);
    const file = await iso.stat('sub/deeper/file.txt');
    const cut = buf.subarray(0, file.extents[0]!.lba * 2048 + 100);
    const short = await openIso(cut);
    expect(await codeOf(short.readFile('sub/deeper/file.txt'))).toBe('ISO_TRUNCATED');
  });

  it('stops following continuation areas that point at themselves', async () => {
    const buf = await image();
    // The root's CE points at the ER entry; replace the ER with a CE pointing at itself.
    const rootLba = buf.readUInt32LE(16 * 2048 + 156 + 2);
    const dot = rootLba * 2048;
    const sua = dot + 34;
    let ce = -1;
    for (let p = sua; p + 4 <= dot + buf[dot]! && buf[p + 2]! >= 4; p += buf[p + 2]!) {
      if (buf.toString('latin1', p, p + 2) === 'CE') ce = p;
    }
    expect(ce).toBeGreaterThan(0);
    const lba = buf.readUInt32LE(ce + 4);
    const offset = buf.readUInt32LE(ce + 12);
    const target = lba * 2048 + offset;
    buf.write('CE', target, 'latin1');
    buf[target + 2] = 28;
    buf[target + 3] = 1;
    setBoth32(buf, target + 4, lba);
    setBoth32(buf, target + 12, offset);
    setBoth32(buf, target + 20, 28);
    const iso = await openIso(buf);
    expect(await codeOf(iso.list())).toBe('ISO_MALFORMED');
  });

  it('refuses a Rock Ridge name that would escape its directory', async () => {
    const buf = await image();
    const at = buf.indexOf(Buffer.from('\0manifest.yaml'));
    expect(at).toBeGreaterThan(0);
    buf.write('\0../../etc/pw', at, 'latin1');
    const iso = await openIso(buf);
    expect(await codeOf(iso.list())).toBe('ISO_MALFORMED');
  });

  it('reports a multi-extent file whose last section is missing', async () => {
    const buf = await image();
    const rootLba = buf.readUInt32LE(16 * 2048 + 156 + 2);
    const at = buf.indexOf(Buffer.from('MANIFEST.YAML;1'), rootLba * 2048);
    buf[at - 33 + 25] = 0x80;
    const iso = await openIso(buf);
    expect(await codeOf(iso.list({ view: 'primary' }))).toBe('ISO_MALFORMED');
  });

  it('survives 2,000 randomly mutated images with typed errors only', async () => {
    const buf = await image();
    const iso = await openIso(buf);
    // Mutate the metadata (everything before the first file's data); drop the trailing padding.
    const list = await iso.list();
    const firstData = Math.min(...list.filter((e) => e.type === 'file' && e.size > 0).map((e) => e.extents[0]!.lba));
    const end = Math.max(...list.flatMap((e) => e.extents.map((x) => x.lba * 2048 + x.size)));
    const stats = await fuzz([{ bytes: buf.subarray(0, end), hot: firstData * 2048 }], 2000, 20261130);
    expect(stats.ok + stats.isoErrors).toBe(2000);
    expect(stats.isoErrors).toBeGreaterThan(0);
    expect(stats.slowestMs).toBeLessThan(2000);
  });
});
