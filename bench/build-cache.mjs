#!/usr/bin/env node
// Benchmark of the build cache of built images: a solution whose operator image is built from a
// large file (default 300 MiB, half random bytes and half repeated text, so gzip has work) and
// two small configuration files in their own layer.
//
//   cold       empty blob store: every layer is tarred and compressed
//   unchanged  repack with the same inputs: every layer comes from the build cache
//   one small  repack after one small file changed: only its layer is compressed again
//   no cache   repack with buildCache: false (what every repack cost before the cache)
//
// Each run is a fresh child process (pack() of a solution file, as `solution pack` does);
// reported: wall time, the images phase, layers compressed vs from the cache, bytes compressed.
//
// Run after `npm run build`:
//   node bench/build-cache.mjs [--mib 300]
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const here = fileURLToPath(import.meta.url);
const MiB = 1024 * 1024;

if (args[0] === '--child') {
  const [, solutionDir, outDir, cacheDir, useCache] = args;
  const { pack } = await import(new URL('../dist/packaging/index.js', import.meta.url).href);
  const t0 = performance.now();
  const r = await pack({ configPath: solutionDir, outDir, cacheDir, sourceDateEpoch: 1_700_000_000, buildCache: useCache === 'yes' });
  process.stdout.write(JSON.stringify({ seconds: (performance.now() - t0) / 1000, images: r.timings.images / 1000, build: r.build, sha256: r.sha256 }));
  process.exit(0);
}

const i = args.indexOf('--mib');
const MIB = i >= 0 ? Number(args[i + 1]) : 300;

const dir = await mkdtemp(join(tmpdir(), 'bench-build-cache-'));
try {
  const sol = join(dir, 'solution');
  execFileSync('mkdir', ['-p', join(sol, 'files')]);
  // The big file: 1 MiB chunks alternating random bytes and repeated text.
  const fh = await open(join(sol, 'files', 'app.bin'), 'w');
  const text = Buffer.alloc(MiB, 'log line 0123456789 abcdefghijklmnopqrstuvwxyz\n');
  for (let c = 0; c < MIB; c++) await fh.write(c % 2 === 0 ? randomBytes(MiB) : text);
  await fh.close();
  await writeFile(join(sol, 'files', 'config.yaml'), 'level: info\n');
  await writeFile(join(sol, 'files', 'motd'), 'welcome\n');
  await writeFile(
    join(sol, 'solution.config.json'),
    JSON.stringify({
      name: 'bench-build',
      version: '1.0.0',
      operator: { image: 'bench-build-operator' },
      images: [
        {
          name: 'bench-build-operator',
          tag: '1.0.0',
          source: {
            kind: 'build',
            layers: [
              { files: [{ path: '/usr/local/bin/bench-build-operator', from: 'files/app.bin', mode: 0o755 }] },
              { files: [{ path: '/etc/app/config.yaml', from: 'files/config.yaml' }, { path: '/etc/motd', from: 'files/motd' }] },
            ],
          },
        },
      ],
    }),
  );
  const cache = join(dir, 'cache');
  const runPack = (label, useCache = true) => {
    const out = execFileSync(process.execPath, [here, '--child', sol, join(dir, 'out'), cache, useCache ? 'yes' : 'no'], { encoding: 'utf8' });
    const r = JSON.parse(out);
    console.log(
      `${label.padEnd(12)} ${r.seconds.toFixed(2).padStart(6)} s   images ${r.images.toFixed(2).padStart(6)} s   ` +
        `layers compressed ${r.build.layersBuilt}, cached ${r.build.layersCached}   ` +
        `compressed ${String(r.build.bytesCompressed).padStart(10)} bytes (${(r.build.bytesCompressed / MiB).toFixed(1)} MiB)`,
    );
    return r;
  };
  console.log(`solution with a ${MIB} MiB built file (pack with the build cache in a fresh blob store)`);
  const cold = runPack('cold');
  const warm = runPack('unchanged');
  await writeFile(join(sol, 'files', 'config.yaml'), 'level: debug\n');
  const changed = runPack('one small');
  const nocache = runPack('no cache', false);
  if (warm.sha256 !== cold.sha256) throw new Error('the unchanged repack gave a different ISO');
  if (changed.sha256 !== nocache.sha256) throw new Error('a repack from the cache differs from a build without it');
} finally {
  await rm(dir, { recursive: true, force: true });
}
