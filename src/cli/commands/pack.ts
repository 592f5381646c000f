import { readFile } from 'node:fs/promises';
import type { Command } from '@commander-js/extra-typings';
import { PackagingError } from '../../errors.js';
import { keygen } from '../../packaging/keygen.js';
import { pack } from '../../packaging/pack.js';
import { FLAG_RULES, hiddenOutAlias, numericOption, outPath } from '../_options.js';
import { action, Output, withInterrupt } from '../_output.js';
import { formatBytes, ProgressDisplay } from '../_progress.js';

interface PackCliOptions {
  out?: string;
  outDir?: string;
  cacheDir?: string;
  sourceDateEpoch?: number;
  platform?: string;
  sign?: string;
  concurrency?: number;
  buildCache?: boolean;
  allowOutsideInputs?: boolean;
  recheckStore?: boolean;
  json?: boolean;
  quiet?: boolean;
}

const buildTimeOrigin = {
  option: '--source-date-epoch',
  SOURCE_DATE_EPOCH: '$SOURCE_DATE_EPOCH',
  git: 'last git commit',
  default: 'no git commit nor SOURCE_DATE_EPOCH: the epoch',
} as const;

/** `solution pack` and `solution keygen`. */
export function registerPackCommands(program: Command): void {
  program
    .command('keygen')
    .description('Create an Ed25519 key pair to sign ISOs (pack --sign) and check them (verify --key).')
    .argument('<private.pem>', 'private key to write (mode 0600); the public key goes to <name>.pub.pem')
    .option('--public <file>', 'where to write the public key')
    .option('--json', 'print one JSON object')
    .option('-q, --quiet', 'print the result only')
    .action(
      action(
        async (privatePath: string, opts: { public?: string; json?: boolean; quiet?: boolean }) => {
          const out = new Output(opts);
          const r = await keygen({ privateKeyPath: privatePath, publicKeyPath: opts.public });
          out.result(
            [
              `private key  ${r.privateKeyPath} (mode 0600: keep it on the build machine, never ship it)`,
              `public key   ${r.publicKeyPath} (give it to customers: solution verify ISO --key ${r.publicKeyPath})`,
              `fingerprint  sha256:${r.fingerprint}`,
              `sign with    solution pack --sign ${r.privateKeyPath}`,
            ].join('\n'),
            r,
          );
        },
        (_p, opts) => new Output(opts),
      ),
    );

  program
    .command('pack')
    .description('Pack a solution and all its images into one ISO that MetalK8s imports offline.')
    .argument('[path]', 'solution file, or the folder holding solution.config.ts', '.')
    .option('-o, --out <dir>', 'folder to write <name>-<version>.iso and SHA256SUM into (default: out)')
    .addOption(hiddenOutAlias('--out-dir'))
    .option('--cache-dir <dir>', 'blob store shared between builds (default: the user cache folder)')
    .addOption(
      numericOption(
        '--source-date-epoch <seconds>',
        'build time, for reproducible ISOs (default: $SOURCE_DATE_EPOCH, else the last git commit time of the solution folder, else 0)',
        FLAG_RULES.epoch,
      ),
    )
    .option('--platform <os/arch>', 'platform of images that do not set one', 'linux/amd64')
    .option('--sign <key.pem>', 'Ed25519 private key: writes <iso>.sig')
    .addOption(numericOption('--concurrency <n>', 'parallel blob downloads per image', FLAG_RULES.downloads).default(4))
    .option('--no-build-cache', 'tar and compress every layer of built images again')
    .option('--allow-outside-inputs', 'accept build files outside the solution folder')
    .option('--recheck-store', 'hash every blob taken from the blob store again, even one unchanged since it was last hashed')
    .option('--json', 'JSON event lines on stdout, for CI')
    .option('-q, --quiet', 'print errors only')
    .action(
      action(
        async (path: string, opts: PackCliOptions) => {
          const out = new Output(opts);
          const progress = new ProgressDisplay(out, { quiet: opts.quiet });
          let signingKey: string | undefined;
          if (opts.sign) {
            try {
              signingKey = await readFile(opts.sign, 'utf8');
            } catch (err) {
              throw new PackagingError('SIGNING_KEY_UNREADABLE', `cannot read the signing key ${opts.sign}`, { hint: 'Give the path of an Ed25519 private key in PEM format.', cause: err });
            }
          }
          let current = '';
          const result = await withInterrupt((signal) =>
            pack({
              configPath: path,
              outDir: outPath('pack', [opts.out, opts.outDir], 'out'),
              cacheDir: opts.cacheDir,
              sourceDateEpoch: opts.sourceDateEpoch,
              platform: opts.platform,
              signingKey,
              concurrency: opts.concurrency,
              buildCache: opts.buildCache !== false,
              allowOutsideInputs: opts.allowOutsideInputs,
              recheckStore: opts.recheckStore,
              signal,
              onProgress: (e) => {
                switch (e.type) {
                  case 'phase':
                    if (e.phase !== 'images' && e.phase !== 'write') progress.update({ phase: e.phase });
                    break;
                  case 'image-start':
                    current = `image ${e.index + 1}/${e.count} ${e.name}:${e.tag}`;
                    progress.update({ phase: current });
                    break;
                  case 'image-bytes':
                    progress.update({ phase: current, done: e.bytes, total: e.total });
                    break;
                  case 'image-done':
                    progress.update({ phase: current, detail: e.bytesDownloaded > 0 ? `${formatBytes(e.bytesDownloaded)} downloaded` : 'cached' });
                    break;
                  case 'write':
                    progress.update({ phase: 'writing ISO', done: e.bytesWritten, total: e.bytesTotal });
                    break;
                  case 'store-recheck':
                    out.warn(`${e.reason}; writing the ISO again, hashing every blob of the store`);
                    break;
                }
              },
            }),
          );
          progress.done();
          for (const w of result.warnings) out.warn(`${w.path}: ${w.message} [${w.code}]`);
          const lines = [
            `${result.path}`,
            `  size     ${formatBytes(result.size)} (${result.size} bytes)`,
            `  sha256   ${result.sha256}  (also in ${result.checksumPath})`,
            ...(result.signaturePath ? [`  signed   ${result.signaturePath}`] : []),
            `  images   ${result.images.length}, ${formatBytes(result.dedupSavedBytes)} saved by shared layers`,
            `  blobs    ${result.blobs.ingested} fetched or built now, ${result.blobs.trusted} unchanged in the store since hashed, ${result.blobs.rehashed} hashed again`,
            ...result.images.map((i) => `    ${`${i.name}:${i.tag}`.padEnd(32)} ${i.manifestDigest}  ${formatBytes(i.size)}`),
            ...(result.build.layersBuilt + result.build.layersCached > 0
              ? [
                  `  built    ${result.build.layersBuilt} layer(s) compressed (${formatBytes(result.build.bytesCompressed)}), ${result.build.layersCached} from the build cache`,
                ]
              : []),
            `  built at ${new Date(result.buildTime.epoch * 1000).toISOString().replace('.000Z', 'Z')} (${buildTimeOrigin[result.buildTime.from]})`,
            `  time     ${(result.timings.total / 1000).toFixed(1)}s (images ${(result.timings.images / 1000).toFixed(1)}s, write ${(result.timings.write / 1000).toFixed(1)}s)`,
          ];
          out.result(lines.join('\n'), result);
        },
        (_p, opts) => new Output(opts),
      ),
    );
}
