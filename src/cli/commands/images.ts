/**
 * `solution images pull|layout|verify|prune`: fetch images into the shared blob store, lay them
 * out as MetalK8s' static registry, check and clean the store. Thin: parsing and printing only.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from '@commander-js/extra-typings';
import { ValidationError } from '../../errors.js';
import {
  type BlobStore,
  defaultCacheDir,
  type FetchedImage,
  type FetchProgressEvent,
  fetchImage,
  type ImageSource,
  openBlobStore,
  parseImageSource,
  parsePlatform,
  planRegistryLayout,
  writeLayout,
} from '../../packaging/images/index.js';
import { pool } from '../../packaging/images/_pool.js';
import { FLAG_RULES, numericOption, outPath } from '../_options.js';
import { action, Output, withInterrupt } from '../_output.js';
import { formatBytes, ProgressDisplay } from '../_progress.js';

interface ConnectionFlags {
  readonly store?: string;
  readonly platform?: string;
  readonly insecure?: boolean;
  readonly plainHttp?: boolean;
  readonly ca?: string;
  readonly concurrency?: number;
  readonly json?: boolean;
  readonly quiet?: boolean;
}

async function withConnection(source: ImageSource, flags: ConnectionFlags): Promise<ImageSource> {
  if (source.kind !== 'registry') return source;
  return {
    ...source,
    ...(flags.insecure ? { insecure: true } : {}),
    ...(flags.plainHttp ? { plainHttp: true } : {}),
    ...(flags.ca ? { ca: await readFile(flags.ca, 'utf8') } : {}),
  };
}

function progress(out: Output): (e: FetchProgressEvent) => void {
  return (e) => {
    if (e.type === 'blob-progress') return;
    if (e.type === 'image-done') {
      out.event({ type: e.type, source: e.source, manifestDigest: e.image.manifestDigest, bytesDownloaded: e.bytesDownloaded });
      return;
    }
    out.event({ ...e });
    if (e.type === 'blob-done') out.info(`  ${e.source}: ${e.digest.slice(7, 19)} ${e.size} bytes`);
  };
}

/** Images fetched at the same time by `pull` and `layout`, as `pack` does. */
const IMAGES_AT_ONCE = 3;

/**
 * Fetches `sources` into `store`, {@link IMAGES_AT_ONCE} at a time, as `pack` does (a registry far
 * away answers each request after a round trip, and the images' requests overlap); the images
 * come back in the order of `sources`. Ctrl-C or the first failure stops the others.
 */
async function fetchInOrder(store: BlobStore, sources: readonly ImageSource[], flags: ConnectionFlags, out: Output, what: string): Promise<FetchedImage[]> {
  const platform = parsePlatform(flags.platform ?? 'linux/amd64');
  const images: FetchedImage[] = new Array(sources.length);
  await withInterrupt((signal) =>
    pool(sources, IMAGES_AT_ONCE, signal, what, async (source, signal, i) => {
      images[i] = await fetchImage(source, { store, platform, concurrency: flags.concurrency, signal, onProgress: progress(out) });
    }),
  );
  return images;
}

async function openStore(flags: ConnectionFlags): Promise<BlobStore> {
  return openBlobStore({ dir: flags.store ?? join(defaultCacheDir(), 'blobs') });
}

// biome-ignore lint/suspicious/noExplicitAny: commander's typed chain needs the open generic here
function common<A extends unknown[], O extends Record<string, any>>(cmd: Command<A, O>) {
  return cmd
    .option('--store <dir>', 'blob store directory (default: the user cache)')
    .option('--platform <os/arch[/variant]>', 'platform of multi-platform images', 'linux/amd64')
    .option('--insecure', 'do not verify registry TLS certificates')
    .option('--plain-http', 'talk plain HTTP to registries')
    .option('--ca <file>', 'PEM CA bundle to trust for registries')
    .addOption(numericOption('--concurrency <n>', 'parallel blob downloads', FLAG_RULES.downloads).default(4))
    .option('--json', 'one JSON event per line')
    .option('-q, --quiet', 'print errors only');
}

/** Registers `solution images …`. */
export function registerImagesCommands(program: Command): void {
  const images = program.command('images').description('Container images: fetch, lay out for MetalK8s, clean the cache.');

  common(
    images
      .command('pull')
      .description('Fetch images into the blob store (docker://REF, oci:DIR[:REF], docker-archive:FILE[:REF]).')
      .argument('<sources...>', 'image sources'),
  ).action(
    action(
      async (sources, flags: ConnectionFlags) => {
        const out = new Output(flags);
        // Every source is parsed (and its CA read) before anything is fetched.
        const parsed: ImageSource[] = [];
        for (const text of sources) parsed.push(await withConnection(parseImageSource(text), flags));
        const images = await fetchInOrder(await openStore(flags), parsed, flags, out, 'images pull');
        const results = images.map((image, i) => ({ source: sources[i]!, pinned: image.pinned, sourceDigest: image.sourceDigest, manifestDigest: image.manifestDigest }));
        out.result(results.map((r) => `${r.source}\n  source   ${r.sourceDigest}\n  v2s2     ${r.manifestDigest}${r.pinned ? `\n  pinned   ${r.pinned}` : ''}`).join('\n'), results);
      },
      (_s, flags) => new Output(flags),
    ),
  );

  common(
    images
      .command('layout')
      .description('Lay images out as MetalK8s static registry (images/… and registry-config.inc.j2) under a directory.')
      .argument('[dir]', 'output directory; or -o')
      .option('-o, --out <dir>', 'output directory')
      .requiredOption('-i, --image <name:tag=source...>', 'an image to lay out, e.g. operator:1.0.0=docker://registry/x:1.0.0'),
  ).action(
    action(
      async (dirArg, flags: ConnectionFlags & { image: string[]; out?: string }) => {
        const out = new Output(flags);
        const dir = outPath('images layout', [dirArg, flags.out]);
        const specs: { name: string; tag: string; source: ImageSource }[] = [];
        for (const [i, spec] of flags.image.entries()) {
          const m = /^([^:=]+):([^=]+)=(.+)$/.exec(spec);
          if (!m) {
            throw new ValidationError(
              [{ code: 'IMAGE_SPEC_INVALID', path: `--image[${i}]`, message: `"${spec}" is not name:tag=source`, severity: 'error', hint: 'Write --image operator:1.0.0=docker://registry.example.com/vendor/operator:1.0.0' }],
              'command line',
            );
          }
          const [, name = '', tag = '', text = ''] = m;
          specs.push({ name, tag, source: await withConnection(parseImageSource(text), flags) });
        }
        const store = await openStore(flags);
        const images = await fetchInOrder(store, specs.map((s) => s.source), flags, out, 'images layout');
        const list = specs.map(({ name, tag }, i) => ({ name, tag, image: images[i]! }));
        const plan = await planRegistryLayout(list, { store });
        const written = await writeLayout(plan, dir);
        out.result(
          `${plan.images.map((i) => `${i.name}:${i.tag}  ${i.manifestDigest}`).join('\n')}\nwrote ${plan.files.length} files under ${dir} (${written.linked} linked, ${written.copied} copied)`,
          { images: plan.images, files: plan.files.length, ...written },
        );
      },
      (_d, flags) => new Output(flags),
    ),
  );

  images
    .command('verify')
    .description('Hash every blob of the store again; remove the damaged ones, which the next pack fetches or builds again.')
    .option('--store <dir>', 'blob store directory (default: the user cache)')
    .option('--json', 'one JSON event per line')
    .option('-q, --quiet', 'print problems only')
    .action(
      action(
        async (flags) => {
          const out = new Output(flags);
          const progress = new ProgressDisplay(out, { quiet: flags.quiet });
          const store = await openBlobStore({ dir: flags.store ?? join(defaultCacheDir(), 'blobs') });
          const r = await withInterrupt((signal) =>
            store.verifyAll({ signal, onProgress: (e) => progress.update({ phase: `hashing ${e.total} blobs`, done: e.bytes, total: e.totalBytes }) }),
          );
          progress.done();
          if (r.damaged.length > 0) {
            out.problems(r.damaged.map((d) => `damaged, removed: ${d}`).join('\n'));
            process.exitCode = 1;
          }
          out.result(`${r.blobs} blobs, ${formatBytes(r.bytes)} hashed: ${r.damaged.length === 0 ? 'all intact' : `${r.damaged.length} damaged and removed`}`, r);
        },
        (flags) => new Output(flags),
      ),
    );

  images
    .command('prune')
    .description('Remove blobs from the store that were not used recently.')
    .option('--store <dir>', 'blob store directory (default: the user cache)')
    .addOption(numericOption('--older-than <days>', 'only blobs unused for this many days', FLAG_RULES.days).default(30))
    .option('--json', 'one JSON event per line')
    .action(
      action(
        async (flags) => {
          const out = new Output(flags);
          const store = await openBlobStore({ dir: flags.store ?? join(defaultCacheDir(), 'blobs') });
          const r = await store.prune({ olderThanMs: flags.olderThan * 86400_000 });
          out.result(`removed ${r.removed} blobs, ${r.bytes} bytes${r.tempFilesRemoved ? `, and ${r.tempFilesRemoved} temporary files left by killed builds (${r.tempBytesRemoved ?? 0} bytes)` : ""}`, r);
        },
        (flags) => new Output(flags),
      ),
    );
}
