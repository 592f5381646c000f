/**
 * ISO 9660 reader: volume descriptors, directories, Rock Ridge (SUSP/RRIP) and Joliet, with
 * files opened as streams (multi-extent files included).
 *
 * Written by hand for the same reason as the writer: no npm package reads ISO 9660 with Rock
 * Ridge, and the SDK must verify images without system tools. The reader treats every image as
 * hostile: each offset and length is checked against the image and against fixed limits, every
 * loop is bounded, directories already visited are refused (no directory loops), and anything
 * wrong becomes an {@link IsoError} with a stable code, never a hang or a crash. Memory stays
 * bounded: a walk holds one directory listing per level, and file contents are streamed.
 *
 * @module
 */
import * as fs from 'node:fs';
import { Readable } from 'node:stream';
import { BYTES, numberOption } from '../../_number-option.js';
import { IsoError, throwIfAborted } from '../../errors.js';
import { BufferSource, type ByteSource, FdSource, le16, le32, malformed, truncated } from './_byte-source.js';
import { fromUcs2, parseRecordDate, SECTOR } from './_encoding.js';
import { detectRockRidge, parseSusp, type RockRidge, S_IFMT } from './_rock-ridge-decode.js';

/** Which directory tree names come from. */
export type IsoView = 'primary' | 'rockridge' | 'joliet';

/** Type of an entry. `other` covers devices, FIFOs and sockets. */
export type IsoEntryType = 'file' | 'directory' | 'symlink' | 'other';

/** A contiguous run of bytes of a file in the image. */
export interface IsoExtentRef {
  /** First sector. */
  readonly lba: number;
  /** Length in bytes. */
  readonly size: number;
}

/** One entry of the image, as seen in one view. */
export interface IsoEntryInfo {
  /** Path from the root, `/`-separated, no leading slash (`images/app/1.0/manifest.json`). */
  readonly path: string;
  /** Last path component. */
  readonly name: string;
  readonly type: IsoEntryType;
  /** Size in bytes (the sum of all sections of a multi-extent file). */
  readonly size: number;
  /** Permission bits (Rock Ridge), or 0o555/0o444 without Rock Ridge. */
  readonly mode: number;
  /** Modification time (Rock Ridge TF, else the record date). */
  readonly mtime: Date;
  /** Symlink target (Rock Ridge view only). */
  readonly target?: string | undefined;
  /** Where the bytes are: one extent, or several for a multi-extent file. */
  readonly extents: readonly IsoExtentRef[];
}

/** Hard limits that keep a hostile image from exhausting memory or time. */
export interface IsoReadLimits {
  /** Largest directory extent read, in bytes. @default 67108864 (64 MiB) */
  readonly maxDirectoryBytes?: number | undefined;
  /** Deepest directory nesting followed. @default 64 */
  readonly maxDepth?: number | undefined;
  /** Most sections of one multi-extent file. @default 4096 */
  readonly maxSections?: number | undefined;
  /** Most continuation areas (CE) followed for one record. @default 16 */
  readonly maxContinuations?: number | undefined;
}

/** Options of {@link openIso}. */
export interface OpenIsoOptions {
  /** Limits against hostile images. */
  readonly limits?: IsoReadLimits | undefined;
  /** Cancels opening. */
  readonly signal?: AbortSignal | undefined;
}

/** Options of lookups and walks. */
export interface IsoViewOptions {
  /** Tree to use. @default the Rock Ridge view when present, else Joliet, else primary */
  readonly view?: IsoView | undefined;
  /** Cancels the operation. */
  readonly signal?: AbortSignal | undefined;
}

/** Options of {@link IsoImage.readFile}. */
export interface IsoReadFileOptions extends IsoViewOptions {
  /** Refuse files larger than this. @default 536870912 (512 MiB) */
  readonly maxBytes?: number | undefined;
}

const latin1 = new TextDecoder('latin1');

function asciiField(b: Uint8Array, off: number, len: number): string {
  return latin1.decode(b.subarray(off, off + len)).replace(/[\s\0]+$/, '');
}

/** A parsed directory record, before names are chosen for a view. */
interface RawRecord {
  readonly lba: number;
  readonly size: number;
  readonly flags: number;
  readonly id: Uint8Array;
  readonly date: Date;
  readonly rr: RockRidge | undefined;
}

/** What the volume descriptors say. */
interface Volume {
  readonly volumeId: string;
  readonly publisherId: string;
  readonly applicationId: string;
  readonly sectors: number;
  readonly root: RawRecord;
  readonly jolietRoot: RawRecord | undefined;
}

/**
 * An opened ISO 9660 image. Obtain one with {@link openIso}; call {@link IsoImage.close} when done.
 */
export class IsoImage {
  /** Volume identifier of the primary volume descriptor. */
  readonly volumeId: string;
  /** Publisher identifier. */
  readonly publisherId: string;
  /** Application identifier. */
  readonly applicationId: string;
  /** Volume size from the primary volume descriptor, in bytes. */
  readonly volumeSize: number;
  /** Whether the primary tree carries Rock Ridge entries. */
  readonly hasRockRidge: boolean;
  /** Whether a Joliet supplementary tree exists. */
  readonly hasJoliet: boolean;
  /** The view used when none is asked for. */
  readonly defaultView: IsoView;

  /** @internal */
  constructor(
    private readonly source: ByteSource,
    private readonly volume: Volume,
    private readonly suspSkip: number | undefined,
    private readonly limits: Required<{ [K in keyof IsoReadLimits]-?: number }>,
  ) {
    this.volumeId = volume.volumeId;
    this.publisherId = volume.publisherId;
    this.applicationId = volume.applicationId;
    this.volumeSize = volume.sectors * SECTOR;
    this.hasRockRidge = suspSkip !== undefined;
    this.hasJoliet = volume.jolietRoot !== undefined;
    this.defaultView = this.hasRockRidge ? 'rockridge' : this.hasJoliet ? 'joliet' : 'primary';
  }

  /** Releases the file descriptor (when the image was opened from a path). */
  async close(): Promise<void> {
    await this.source.close();
  }

  private viewOf(options: IsoViewOptions | undefined): IsoView {
    const view = options?.view ?? this.defaultView;
    if (view === 'rockridge' && !this.hasRockRidge) {
      throw new IsoError('ISO_VIEW_UNAVAILABLE', 'the image has no Rock Ridge entries', {
        hint: "Use view 'joliet' or 'primary'.",
      });
    }
    if (view === 'joliet' && !this.hasJoliet) {
      throw new IsoError('ISO_VIEW_UNAVAILABLE', 'the image has no Joliet tree', {
        hint: "Use view 'rockridge' or 'primary'.",
      });
    }
    return view;
  }

  private rootOf(view: IsoView): IsoEntryInfo {
    const r = view === 'joliet' ? this.volume.jolietRoot! : this.volume.root;
    return {
      path: '',
      name: '',
      type: 'directory',
      size: r.size,
      mode: 0o555,
      mtime: r.date,
      extents: [{ lba: r.lba, size: r.size }],
    };
  }

  /** Reads the sector of a Rock Ridge continuation area. */
  private readonly readContinuation = (lba: number): Promise<Uint8Array> =>
    this.readBytes(lba, SECTOR, 'a Rock Ridge continuation area');

  private async readBytes(lba: number, size: number, what: string): Promise<Uint8Array> {
    const pos = lba * SECTOR;
    if (pos + size > this.source.size) throw truncated(what);
    const bytes = await this.source.read(pos, size);
    if (bytes.length < size) throw truncated(what);
    return bytes;
  }

  /** Parses the records of a directory extent. */
  private async readRecords(lba: number, size: number, withRr: boolean, what: string): Promise<RawRecord[]> {
    if (size > this.limits.maxDirectoryBytes) {
      throw malformed(`${what} claims ${size} bytes, more than the ${this.limits.maxDirectoryBytes}-byte limit`);
    }
    const data = await this.readBytes(lba, size, what);
    const out: RawRecord[] = [];
    let pos = 0;
    while (pos < data.length) {
      const len = data[pos]!;
      if (len === 0) {
        pos = (Math.floor(pos / SECTOR) + 1) * SECTOR;
        continue;
      }
      if (len < 34) throw malformed(`${what} has a directory record of ${len} bytes`);
      if ((pos % SECTOR) + len > SECTOR || pos + len > data.length) {
        throw malformed(`${what} has a directory record that crosses a sector boundary`);
      }
      const rec = data.subarray(pos, pos + len);
      const idLen = rec[32]!;
      if (idLen === 0 || 33 + idLen > len) throw malformed(`${what} has a record whose name runs past it`);
      const suaStart = 33 + idLen + (idLen % 2 === 0 ? 1 : 0);
      const rr =
        withRr && this.suspSkip !== undefined && suaStart < len
          ? await parseSusp(rec.subarray(suaStart), this.suspSkip, this.limits.maxContinuations, this.readContinuation)
          : undefined;
      out.push({
        lba: le32(rec, 2),
        size: le32(rec, 10),
        flags: rec[25]!,
        id: rec.subarray(33, 33 + idLen),
        date: parseRecordDate(rec, 18) ?? new Date(0),
        rr,
      });
      pos += len;
    }
    return out;
  }

  /** Lists one directory in a view. */
  private async listDir(dir: IsoEntryInfo, view: IsoView): Promise<IsoEntryInfo[]> {
    const ext = dir.extents[0];
    if (ext === undefined) return [];
    const joliet = view === 'joliet';
    const records = await this.readRecords(ext.lba, ext.size, view === 'rockridge', `directory "/${dir.path}"`);
    const out: IsoEntryInfo[] = [];
    const names = new Set<string>();
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      if (r.id.length === 1 && (r.id[0] === 0 || r.id[0] === 1)) continue;
      const extents: IsoExtentRef[] = [{ lba: r.lba, size: r.size }];
      let total = r.size;
      let last = r;
      while (last.flags & 0x80) {
        const next = records[i + 1];
        if (next === undefined || !sameId(next.id, r.id)) {
          throw malformed(`a multi-extent file in "/${dir.path}" lacks its last section`);
        }
        if (extents.length >= this.limits.maxSections) {
          throw malformed(`a file in "/${dir.path}" has more than ${this.limits.maxSections} sections`);
        }
        extents.push({ lba: next.lba, size: next.size });
        total += next.size;
        last = next;
        i++;
      }
      if (r.rr?.relocated) continue;
      let name: string;
      if (view === 'rockridge' && r.rr?.name !== undefined) name = r.rr.name;
      else if (joliet) name = fromUcs2(r.id).replace(/;\d+$/, '');
      else name = latin1.decode(r.id);
      if (view === 'rockridge' && r.rr?.name === undefined) name = latin1.decode(r.id).replace(/;\d+$/, '').replace(/\.$/, '');
      if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
        throw malformed(`directory "/${dir.path}" holds an entry with the unsafe name ${JSON.stringify(name)}`);
      }
      if (names.has(name)) {
        throw malformed(`directory "/${dir.path}" holds the name ${JSON.stringify(name)} twice`);
      }
      names.add(name);
      const rr = view === 'rockridge' ? r.rr : undefined;
      let type: IsoEntryType;
      let dirExtents = extents;
      if (rr?.childLink !== undefined) {
        type = 'directory';
        const block = await this.readBytes(rr.childLink, SECTOR, `relocated directory of "${name}"`);
        if (block[0]! < 34) throw malformed(`relocated directory of "${name}" has no "." record`);
        dirExtents = [{ lba: rr.childLink, size: le32(block, 10) }];
      } else if (r.flags & 0x02) type = 'directory';
      else if (rr?.mode !== undefined) {
        const fmt = rr.mode & S_IFMT;
        type = fmt === 0o100000 ? 'file' : fmt === 0o120000 ? 'symlink' : fmt === 0o040000 ? 'file' : 'other';
      } else type = 'file';
      if (type === 'symlink' && rr?.target === undefined) type = 'other';
      const path = dir.path === '' ? name : `${dir.path}/${name}`;
      out.push({
        path,
        name,
        type,
        size: type === 'directory' ? (dirExtents[0]?.size ?? 0) : type === 'file' ? total : 0,
        mode: rr?.mode !== undefined ? rr.mode & 0o7777 : type === 'directory' ? 0o555 : 0o444,
        mtime: rr?.mtime ?? r.date,
        ...(type === 'symlink' ? { target: rr?.target } : {}),
        extents: type === 'directory' ? dirExtents : type === 'file' ? extents : [],
      });
    }
    return out;
  }

  /**
   * Walks the whole tree depth first (entries of a directory sorted by name), yielding every
   * entry but the root. Refuses directory loops and trees deeper than the depth limit.
   */
  async *walk(options?: IsoViewOptions): AsyncGenerator<IsoEntryInfo> {
    const view = this.viewOf(options);
    const seen = new Set<number>();
    const root = this.rootOf(view);
    seen.add(root.extents[0]!.lba);
    const stack: { entries: IsoEntryInfo[]; index: number }[] = [
      { entries: sortByName(await this.listDir(root, view)), index: 0 },
    ];
    while (stack.length > 0) {
      throwIfAborted(options?.signal, 'ISO walk');
      const top = stack[stack.length - 1]!;
      const e = top.entries[top.index++];
      if (e === undefined) {
        stack.pop();
        continue;
      }
      yield e;
      if (e.type !== 'directory') continue;
      const lba = e.extents[0]?.lba ?? 0;
      if (seen.has(lba)) {
        throw new IsoError('ISO_DIRECTORY_LOOP', `directory "/${e.path}" points back to a directory already read`, {
          hint: 'The image is damaged or crafted: its directories form a loop.',
        });
      }
      seen.add(lba);
      if (stack.length >= this.limits.maxDepth) {
        throw malformed(`directory "/${e.path}" is nested deeper than ${this.limits.maxDepth} levels`);
      }
      stack.push({ entries: sortByName(await this.listDir(e, view)), index: 0 });
    }
  }

  /** Every entry of the tree, in {@link IsoImage.walk} order. */
  async list(options?: IsoViewOptions): Promise<IsoEntryInfo[]> {
    const out: IsoEntryInfo[] = [];
    for await (const e of this.walk(options)) out.push(e);
    return out;
  }

  /** The entries of one directory (`''` or `/` for the root). */
  async readdir(path: string, options?: IsoViewOptions): Promise<IsoEntryInfo[]> {
    const view = this.viewOf(options);
    const dir = await this.stat(path, options);
    if (dir.type !== 'directory') {
      throw new IsoError('ISO_NOT_A_DIRECTORY', `"/${dir.path}" is not a directory`, { hint: 'List a directory.' });
    }
    return sortByName(await this.listDir(dir, view));
  }

  /**
   * Looks a path up. In the primary view, names match with or without their `;1` version and
   * regardless of case (`/manifest.yaml` finds `MANIFEST.YAML;1`).
   */
  async stat(path: string, options?: IsoViewOptions): Promise<IsoEntryInfo> {
    const view = this.viewOf(options);
    const parts = path.split('/').filter((p) => p !== '' && p !== '.');
    let cur = this.rootOf(view);
    for (let i = 0; i < parts.length; i++) {
      throwIfAborted(options?.signal, 'ISO lookup');
      if (cur.type !== 'directory') {
        throw new IsoError('ISO_NOT_FOUND', `"/${parts.join('/')}" is not in the image: "/${cur.path}" is not a directory`, {
          hint: 'List the image with `solution iso ls` to see its paths.',
        });
      }
      const want = parts[i]!;
      const list = await this.listDir(cur, view);
      const found =
        list.find((e) => e.name === want) ??
        (view === 'primary' ? list.find((e) => primaryKey(e.name) === primaryKey(want)) : undefined);
      if (found === undefined) {
        throw new IsoError('ISO_NOT_FOUND', `"/${parts.slice(0, i + 1).join('/')}" is not in the image (${view} view)`, {
          hint: 'List the image with `solution iso ls` to see its paths.',
        });
      }
      cur = found;
    }
    return cur;
  }

  private async resolveFile(target: string | IsoEntryInfo, options?: IsoViewOptions): Promise<IsoEntryInfo> {
    const entry = typeof target === 'string' ? await this.stat(target, options) : target;
    if (entry.type !== 'file') {
      throw new IsoError('ISO_NOT_A_FILE', `"/${entry.path}" is a ${entry.type}, not a regular file`, {
        hint: 'Read regular files only.',
      });
    }
    for (const ext of entry.extents) {
      if (ext.lba * SECTOR + ext.size > this.source.size) throw truncated(`content of "/${entry.path}"`);
    }
    return entry;
  }

  /**
   * Opens a regular file as a stream of its bytes (all sections of a multi-extent file, in order).
   * Reads 1 MiB at a time.
   */
  createReadStream(target: string | IsoEntryInfo, options?: IsoViewOptions): Readable {
    const self = this;
    async function* chunks(): AsyncGenerator<Uint8Array> {
      const entry = await self.resolveFile(target, options);
      for (const ext of entry.extents) {
        let done = 0;
        while (done < ext.size) {
          throwIfAborted(options?.signal, 'ISO read');
          const n = Math.min(1024 * 1024, ext.size - done);
          const bytes = await self.source.read(ext.lba * SECTOR + done, n);
          if (bytes.length < n) throw truncated(`content of "/${entry.path}"`);
          done += n;
          yield bytes;
        }
      }
    }
    return Readable.from(chunks(), { objectMode: false });
  }

  /** Reads a whole regular file into memory (refuses files above `maxBytes`). */
  async readFile(target: string | IsoEntryInfo, options?: IsoReadFileOptions): Promise<Buffer> {
    const max = numberOption('maxBytes', options?.maxBytes, BYTES) ?? 512 * 1024 * 1024;
    const entry = await this.resolveFile(target, options);
    if (entry.size > max) {
      throw new IsoError('ISO_FILE_TOO_LARGE', `"/${entry.path}" has ${entry.size} bytes, more than ${max}`, {
        hint: 'Use createReadStream() for large files.',
      });
    }
    const parts: Uint8Array[] = [];
    for await (const chunk of this.createReadStream(entry, options)) parts.push(chunk as Uint8Array);
    return Buffer.concat(parts);
  }
}

function sameId(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function primaryKey(name: string): string {
  return name
    .replace(/;\d+$/, '')
    .replace(/\.$/, '')
    .toUpperCase();
}

function sortByName(list: IsoEntryInfo[]): IsoEntryInfo[] {
  return list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function rootRecord(vd: Uint8Array, which: string): RawRecord {
  const rec = vd.subarray(156, 190);
  if (rec[0] !== 34) throw malformed(`the ${which} volume descriptor has no valid root directory record`);
  return {
    lba: le32(rec, 2),
    size: le32(rec, 10),
    flags: rec[25]!,
    id: rec.subarray(33, 34),
    date: parseRecordDate(rec, 18) ?? new Date(0),
    rr: undefined,
  };
}

async function readVolume(source: ByteSource, signal: AbortSignal | undefined): Promise<Volume> {
  let pvd: Uint8Array | undefined;
  let svd: Uint8Array | undefined;
  for (let i = 16; i < 16 + 64; i++) {
    throwIfAborted(signal, 'ISO open');
    const vd = await source.read(i * SECTOR, SECTOR);
    if (vd.length < SECTOR) {
      if (pvd) break;
      throw new IsoError('ISO_NOT_ISO9660', 'the file is too short to hold ISO 9660 volume descriptors', {
        hint: 'Check that the file is an ISO image and was copied completely.',
      });
    }
    if (latin1.decode(vd.subarray(1, 6)) !== 'CD001') {
      if (pvd) break;
      throw new IsoError('ISO_NOT_ISO9660', 'the file has no ISO 9660 volume descriptor (no "CD001" at sector 16)', {
        hint: 'Check that the file is an ISO 9660 image.',
      });
    }
    const type = vd[0];
    if (type === 255) break;
    if (type === 1 && pvd === undefined) pvd = vd;
    if (type === 2 && svd === undefined && vd[88] === 0x25 && vd[89] === 0x2f && [0x40, 0x43, 0x45].includes(vd[90]!)) {
      svd = vd;
    }
  }
  if (pvd === undefined) {
    throw new IsoError('ISO_NOT_ISO9660', 'the image has no primary volume descriptor', {
      hint: 'Check that the file is an ISO 9660 image.',
    });
  }
  const blockSize = le16(pvd, 128);
  if (blockSize !== SECTOR) {
    throw new IsoError('ISO_UNSUPPORTED', `the image uses ${blockSize}-byte blocks; only 2048 is supported`, {
      hint: 'Rebuild the image with 2048-byte blocks.',
    });
  }
  return {
    volumeId: asciiField(pvd, 40, 32),
    publisherId: asciiField(pvd, 318, 128),
    applicationId: asciiField(pvd, 574, 128),
    sectors: le32(pvd, 80),
    root: rootRecord(pvd, 'primary'),
    jolietRoot: svd ? rootRecord(svd, 'Joliet') : undefined,
  };
}

/**
 * Opens an ISO 9660 image for reading: a file path, an open file descriptor (not closed by
 * {@link IsoImage.close}), or the image bytes.
 *
 * @example
 * ```ts
 * const iso = await openIso('example-1.0.0.iso');
 * try {
 *   const manifest = await iso.readFile('manifest.yaml');
 *   for await (const entry of iso.walk()) console.log(entry.path, entry.size);
 * } finally {
 *   await iso.close();
 * }
 * ```
 */
export async function openIso(source: string | number | Uint8Array, options?: OpenIsoOptions): Promise<IsoImage> {
  throwIfAborted(options?.signal, 'ISO open');
  const l = options?.limits;
  // A NaN limit compares false with every size: it would turn the limit off, not tighten it.
  const limits = {
    maxDirectoryBytes: numberOption('limits.maxDirectoryBytes', l?.maxDirectoryBytes, { integer: true, min: 2048, unit: 'bytes' }) ?? 64 * 1024 * 1024,
    maxDepth: numberOption('limits.maxDepth', l?.maxDepth, { integer: true, min: 1, unit: 'levels' }) ?? 64,
    maxSections: numberOption('limits.maxSections', l?.maxSections, { integer: true, min: 1, unit: 'sections' }) ?? 4096,
    maxContinuations: numberOption('limits.maxContinuations', l?.maxContinuations, { integer: true, min: 0, unit: 'continuation areas' }) ?? 16,
  };
  let src: ByteSource;
  if (typeof source === 'string') {
    let fd: number;
    try {
      // O_NONBLOCK: opening a FIFO never waits for a writer (it is refused just below).
      fd = fs.openSync(source, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new IsoError('ISO_OPEN_FAILED', `cannot open ${JSON.stringify(source)}${code === 'ENOENT' ? ': it does not exist' : code ? ` (${code})` : ''}`, {
        hint: 'Check the path and its permissions.',
        cause: err,
      });
    }
    const st = fs.fstatSync(fd);
    // FIFOs, sockets, devices and folders are refused at once: a FIFO has no size and a read
    // from it would wait forever.
    if (!st.isFile()) {
      fs.closeSync(fd);
      const kind = st.isDirectory() ? 'a folder' : st.isFIFO() ? 'a FIFO (named pipe)' : st.isSocket() ? 'a socket' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : 'not a regular file';
      throw new IsoError('ISO_NOT_REGULAR_FILE', `${JSON.stringify(source)} is ${kind}, not an ISO image file`, {
        hint: 'Give the path of the .iso file itself (copy a stream or a device to a file first, e.g. with dd).',
      });
    }
    src = new FdSource(fd, st.size, true, JSON.stringify(source));
  } else if (typeof source === 'number') {
    src = new FdSource(source, fs.fstatSync(source).size, false, `file descriptor ${source}`);
  } else {
    src = new BufferSource(source);
  }
  try {
    const volume = await readVolume(src, options?.signal);
    const skip = await detectRockRidge(src, volume.root);
    return new IsoImage(src, volume, skip, limits);
  } catch (err) {
    await src.close();
    throw err;
  }
}
