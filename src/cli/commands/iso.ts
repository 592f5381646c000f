import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from '@commander-js/extra-typings';
import { IsoError } from '../../errors.js';
import {
  type IsoEntry,
  type IsoEntryInfo,
  type IsoView,
  type IsoWriteProgress,
  writeIso,
} from '../../packaging/iso/index.js';
import { hiddenOutAlias, outPath } from '../_options.js';
import { action, Output } from '../_output.js';

/**
 * The reader and stream pipelines, loaded by the commands that read an image: `iso create`
 * starts without them (its start-up counts when it is compared with genisoimage).
 */
async function reading() {
  const [{ openIso }, { pipeline }] = await Promise.all([import('../../packaging/iso/iso-reader.js'), import('node:stream/promises')]);
  return { openIso, pipeline };
}

const VIEWS = ['rockridge', 'joliet', 'primary'] as const;

function parseView(value: string | undefined): IsoView | undefined {
  if (value === undefined) return undefined;
  if (!(VIEWS as readonly string[]).includes(value)) {
    throw new IsoError('ISO_INVALID_VIEW', `--view ${value} is not one of ${VIEWS.join(', ')}`, {
      hint: 'Pass --view rockridge, joliet or primary.',
    });
  }
  return value as IsoView;
}

/** Lists a directory on disk as ISO entries: sorted, modes kept, symlinks kept, other types skipped. */
function* treeEntries(root: string, out: Output, preserveTimes: boolean): Generator<IsoEntry> {
  // From the millisecond counts, truncated: Node's `st.mtime` rounds to the nearest millisecond,
  // which turns 20.9999 s into 21 s, one second later than the file's time once stored in seconds.
  const times = (st: fs.Stats) => ({ mtime: new Date(Math.floor(st.mtimeMs)), ctime: new Date(Math.floor(st.ctimeMs)) });
  const noTimes = {};
  if (preserveTimes) yield { path: '', type: 'directory', mode: fs.statSync(root).mode & 0o7777, ...times(fs.statSync(root)) };
  const walk = function* (rel: string, abs: string): Generator<IsoEntry> {
    const names = fs.readdirSync(abs).sort();
    for (const name of names) {
      const childRel = rel === '' ? name : `${rel}/${name}`;
      // `abs` is normalised already (path.resolve below): a plain join is enough.
      const childAbs = `${abs}/${name}`;
      const st = fs.lstatSync(childAbs);
      const mode = st.mode & 0o7777;
      const t = preserveTimes ? times(st) : noTimes;
      if (st.isDirectory()) {
        yield { path: childRel, type: 'directory', mode, ...t };
        yield* walk(childRel, childAbs);
      } else if (st.isFile()) {
        // The lstat of a regular file is its stat: the writer need not stat it again.
        yield { path: childRel, type: 'file', mode, source: { kind: 'path', path: childAbs, stats: st }, ...t };
      } else if (st.isSymbolicLink()) {
        yield { path: childRel, type: 'symlink', target: fs.readlinkSync(childAbs), mode, ...t };
      } else {
        out.warn(`skipping ${childRel}: not a file, directory or symlink`);
      }
    }
  };
  const top = path.resolve(root);
  yield* walk('', top === '/' ? '' : top);
}

function defaultVolumeId(dir: string): string {
  return (
    path
      .basename(path.resolve(dir))
      .replace(/[^\x20-\x7e]/g, '_')
      .slice(0, 32) || 'CDROM'
  );
}

function modeString(e: IsoEntryInfo): string {
  const t = e.type === 'directory' ? 'd' : e.type === 'symlink' ? 'l' : e.type === 'other' ? '?' : '-';
  const bits = 'rwxrwxrwx';
  let s = t;
  for (let i = 0; i < 9; i++) s += e.mode & (1 << (8 - i)) ? bits[i] : '-';
  return s;
}

function progressPrinter(out: Output): ((e: IsoWriteProgress) => void) | undefined {
  if (out.json) return (e) => out.event({ type: 'progress', ...e });
  if (!process.stderr.isTTY) return undefined;
  return (e) => {
    const pct = e.bytesTotal === 0 ? 100 : Math.floor((100 * e.bytesWritten) / e.bytesTotal);
    process.stderr.write(
      `\r  ${(e.bytesWritten / 1048576).toFixed(0)}/${(e.bytesTotal / 1048576).toFixed(0)} MiB (${pct}%)${e.phase === 'done' ? '\n' : ''}`,
    );
  };
}

/** Keeps an extracted path inside the destination directory. */
function inside(dest: string, rel: string): string {
  const target = path.resolve(dest, rel);
  if (target !== dest && !target.startsWith(dest + path.sep)) {
    throw new IsoError('ISO_UNSAFE_PATH', `entry "${rel}" would be written outside ${dest}`, {
      hint: 'The image is crafted or damaged; do not extract it.',
    });
  }
  return target;
}

/** `solution iso create|ls|cat|extract`: write ISO images and look inside them. */
export function registerIsoCommands(program: Command): void {
  const iso = program
    .command('iso')
    .description('Write ISO 9660 images (Rock Ridge, Joliet) and look inside them, without system tools.');

  iso
    .command('create')
    .description('Write an ISO image of a directory (deterministic: same tree, same bytes).')
    .argument('<dir>', 'directory to put in the image')
    .option('-o, --out <file>', 'image to write')
    .addOption(hiddenOutAlias('--output'))
    .option('--volid <id>', 'volume identifier, at most 32 characters (default: the directory name)')
    .option('--publisher <id>', 'publisher identifier')
    .option('--application <id>', 'application identifier')
    .option('--no-joliet', 'omit the Joliet tree')
    .option(
      '--preserve-times',
      "record the files' own modification and change times instead of one fixed timestamp (the image then depends on them)",
    )
    .option('--no-sha256', 'do not compute the sha256 of the image while writing it')
    .option('--json', 'print JSON events')
    .option('-q, --quiet', 'print errors only')
    .action(
      action(
        async (dir, opts) => {
          const out = new Output(opts);
          const output = outPath('iso create', [opts.out, opts.output]);
          if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
            throw new IsoError('ISO_SOURCE_NOT_A_DIRECTORY', `${dir} is not a directory`, {
              hint: 'Pass the directory to put in the image.',
            });
          }
          const controller = new AbortController();
          const onSignal = () => controller.abort();
          process.once('SIGINT', onSignal);
          try {
            const result = await writeIso({
              entries: treeEntries(dir, out, opts.preserveTimes === true),
              output,
              volumeId: opts.volid ?? defaultVolumeId(dir),
              publisherId: opts.publisher,
              applicationId: opts.application,
              joliet: opts.joliet,
              sha256: opts.sha256,
              onProgress: opts.quiet ? undefined : progressPrinter(out),
              onWarning: (w) => out.warn(`${w.path}: ${w.message} [${w.code}]`),
              signal: controller.signal,
            });
            out.result(
              `wrote ${output}: ${result.size} bytes, ${result.files} files, ${result.directories} directories, ${result.symlinks} symlinks, ${result.dedupedFiles} files sharing an extent (${result.dedupedBytes} bytes saved)${result.sha256 ? `\nsha256 ${result.sha256}` : ''}`,
              { output, ...result },
            );
          } finally {
            process.off('SIGINT', onSignal);
          }
        },
        (_dir, opts) => new Output(opts),
      ),
    );

  iso
    .command('ls')
    .description('List the files of an ISO image.')
    .argument('<image>', 'ISO image')
    .option('-l, --long', 'show type, mode, size, date and symlink targets')
    .option('--view <view>', 'tree to list: rockridge, joliet or primary (default: the richest present)')
    .option('--json', 'print JSON')
    .action(
      action(
        async (image, opts) => {
          const out = new Output(opts);
          const { openIso } = await reading();
          const img = await openIso(image);
          try {
            const view = parseView(opts.view);
            const entries = await img.list({ view });
            const lines = entries.map((e) => {
              if (!opts.long) return e.type === 'directory' ? `${e.path}/` : e.path;
              const date = e.mtime.toISOString().slice(0, 19).replace('T', ' ');
              const target = e.type === 'symlink' ? ` -> ${e.target}` : '';
              return `${modeString(e)} ${String(e.size).padStart(12)} ${date} ${e.path}${target}`;
            });
            out.result(lines.join('\n'), {
              volumeId: img.volumeId,
              rockRidge: img.hasRockRidge,
              joliet: img.hasJoliet,
              view: view ?? img.defaultView,
              entries,
            });
          } finally {
            await img.close();
          }
        },
        (_image, opts) => new Output(opts),
      ),
    );

  iso
    .command('cat')
    .description('Print one file of an ISO image on stdout.')
    .argument('<image>', 'ISO image')
    .argument('<path>', 'path inside the image')
    .option('--view <view>', 'tree to look the path up in: rockridge, joliet or primary')
    .action(
      action(async (image, file, opts) => {
        const { openIso, pipeline } = await reading();
        const img = await openIso(image);
        try {
          const stream = img.createReadStream(file, { view: parseView(opts.view) });
          await pipeline(stream, process.stdout, { end: false });
        } finally {
          await img.close();
        }
      }),
    );

  iso
    .command('extract')
    .description('Extract every file, directory and symlink of an ISO image into a directory.')
    .argument('<image>', 'ISO image')
    .argument('[dir]', 'destination directory (created if missing); or -o')
    .option('-o, --out <dir>', 'destination directory (created if missing)')
    .option('--view <view>', 'tree to extract: rockridge, joliet or primary')
    .option('--json', 'print JSON')
    .option('-q, --quiet', 'print errors only')
    .action(
      action(
        async (image, dir, opts) => {
          const out = new Output(opts);
          const { openIso, pipeline } = await reading();
          const img = await openIso(image);
          const dest = path.resolve(outPath('iso extract', [dir, opts.out]));
          fs.mkdirSync(dest, { recursive: true });
          const dirModes: [string, number][] = [];
          let files = 0;
          let bytes = 0;
          try {
            for await (const e of img.walk({ view: parseView(opts.view) })) {
              const target = inside(dest, e.path);
              if (e.type === 'directory') {
                fs.mkdirSync(target, { recursive: true, mode: 0o700 });
                dirModes.push([target, e.mode]);
              } else if (e.type === 'symlink') {
                fs.symlinkSync(e.target ?? '', target);
              } else if (e.type === 'file') {
                await pipeline(img.createReadStream(e), fs.createWriteStream(target, { mode: 0o600 }));
                fs.chmodSync(target, e.mode);
                files++;
                bytes += e.size;
                out.info(e.path);
              } else {
                out.warn(`skipping ${e.path}: not a file, directory or symlink`);
              }
            }
          } finally {
            await img.close();
          }
          for (const [d, mode] of dirModes.reverse()) fs.chmodSync(d, mode);
          out.result(`extracted ${files} files (${bytes} bytes) into ${dest}`, { dir: dest, files, bytes });
        },
        (_image, _dir, opts) => new Output(opts),
      ),
    );
}
