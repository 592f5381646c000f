#!/usr/bin/env node
// Benchmark of the SDK's ISO writer against genisoimage, xorriso and a plain `cat` of the same
// bytes, on a 1 GiB tree (3 x 300 MiB plus 5,000 small files), run side by side and interleaved.
// Prints the median wall time of each, the ratio of the SDK (with its sha256 of the image) to
// each, and peak RSS. `genisoimage+sha256sum` is the reference pipeline's equivalent of the SDK's
// output (image plus digest); `sdk --no-sha256` is the writer alone.
//
//   npm run build && node bench/iso-bench.mjs [--runs 3] [--data DIR] [--keep] [--large]
//
// --large adds one run on a sparse 4 GiB + 3 MiB file (a multi-extent file; xorriso is the only
// reference writer that handles it), to show that peak RSS does not grow with the image size.
//
// The data set is generated once under DIR (default: $TMPDIR/metalk8s-sdk-iso-bench) and kept
// for later runs when --keep is given. Outputs go to the same directory and are removed.
import { spawnSync } from 'node:child_process';
import { randomFillSync, createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const runs = Number(opt('--runs', '3'));
const base = path.resolve(opt('--data', path.join(os.tmpdir(), 'metalk8s-sdk-iso-bench')));
const keep = args.includes('--keep');
const cliPath = path.resolve(import.meta.dirname, '../dist/cli.js');
const src = path.join(base, 'src');
const out = path.join(base, 'out');

function makeData() {
  if (fs.existsSync(path.join(src, '.complete'))) return;
  fs.rmSync(src, { recursive: true, force: true });
  fs.mkdirSync(src, { recursive: true });
  const big = Buffer.allocUnsafe(4 * 1024 * 1024);
  for (let i = 0; i < 3; i++) {
    const fd = fs.openSync(path.join(src, `layer-${i}.tar.gz`), 'w');
    for (let done = 0; done < 300 * 1024 * 1024; done += big.length) fs.writeSync(fd, randomFillSync(big));
    fs.closeSync(fd);
  }
  let seed = 1;
  for (let i = 0; i < 5000; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const size = 1024 + (seed % (39 * 1024));
    const data = randomFillSync(Buffer.allocUnsafe(size));
    const dir = path.join(src, 'blobs', (i % 64).toString(16).padStart(2, '0'));
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, createHash('sha256').update(data).digest('hex')), data);
  }
  fs.writeFileSync(path.join(src, 'manifest.yaml'), 'kind: Solution\n');
  fs.writeFileSync(path.join(src, `${'n'.repeat(90)}.yaml`), 'long name\n');
  fs.writeFileSync(path.join(src, 'with space.txt'), 'space\n');
  fs.writeFileSync(path.join(src, 'ünïcödé.txt'), 'unicode\n');
  fs.writeFileSync(path.join(src, 'private'), 'x\n', { mode: 0o640 });
  fs.symlinkSync('manifest.yaml', path.join(src, 'link'));
  fs.writeFileSync(path.join(src, '.complete'), '');
}

function dataBytes(dir) {
  let total = 0;
  let files = 0;
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        total += fs.statSync(p).size;
        files++;
      }
    }
  };
  walk(dir);
  return { total, files };
}

const tools = {
  cat: ['sh', '-c', `cd "${src}" && find . -type f -print0 | sort -z | xargs -0 cat > "${out}"`],
  genisoimage: ['genisoimage', '-quiet', '-R', '-J', '-joliet-long', '-input-charset', 'utf-8', '-o', out, src],
  xorriso: ['xorriso', '-as', 'mkisofs', '-quiet', '-R', '-J', '-joliet-long', '-o', out, src],
  'genisoimage+sha256sum': [
    'sh',
    '-c',
    `genisoimage -quiet -R -J -joliet-long -input-charset utf-8 -o "${out}" "${src}" && sha256sum "${out}" >/dev/null`,
  ],
  'sdk --no-sha256': [process.execPath, '--max-semi-space-size=2', cliPath, 'iso', 'create', src, '-o', out, '-q', '--volid', 'BENCH', '--no-sha256'],
  sdk: [process.execPath, '--max-semi-space-size=2', cliPath, 'iso', 'create', src, '-o', out, '-q', '--volid', 'BENCH'],
};

function measure(name) {
  fs.rmSync(out, { force: true });
  const [cmd, ...rest] = tools[name];
  const r = spawnSync('/usr/bin/time', ['-v', cmd, ...rest], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${name} failed: ${r.stderr}`);
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(r.stderr);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  const user = /User time \(seconds\): ([\d.]+)/.exec(r.stderr);
  const sys = /System time \(seconds\): ([\d.]+)/.exec(r.stderr);
  const seconds = Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]);
  const size = fs.statSync(out).size;
  fs.rmSync(out, { force: true });
  return { seconds, rssMiB: Number(rss[1]) / 1024, user: Number(user[1]), sys: Number(sys[1]), size };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

makeData();
const { total, files } = dataBytes(src);
console.log(`data: ${files} files, ${(total / 1048576).toFixed(1)} MiB in ${src}; ${runs} runs each, interleaved, page cache warm`);
const results = Object.fromEntries(Object.keys(tools).map((k) => [k, []]));
for (const name of Object.keys(tools)) measure(name); // warm-up
for (let i = 0; i < runs; i++) for (const name of Object.keys(tools)) results[name].push(measure(name));

const sdkWall = median(results.sdk.map((r) => r.seconds));
console.log('');
console.log(`${'tool'.padEnd(22)}wall median (min-max)    user     sys   peak RSS   output size   SDK time / tool time`);
for (const [name, rs] of Object.entries(results)) {
  const walls = rs.map((r) => r.seconds);
  const w = median(walls);
  const line = [
    name.padEnd(20),
    `${w.toFixed(2)} s (${Math.min(...walls).toFixed(2)}-${Math.max(...walls).toFixed(2)})`.padEnd(23),
    median(rs.map((r) => r.user)).toFixed(2).padStart(6),
    median(rs.map((r) => r.sys)).toFixed(2).padStart(6),
    `${Math.max(...rs.map((r) => r.rssMiB)).toFixed(1)} MiB`.padStart(10),
    String(rs[0].size).padStart(13),
    name === 'sdk' ? '' : `${(sdkWall / w).toFixed(2)}x`.padStart(12),
  ];
  console.log(line.join('  '));
}
if (args.includes('--large')) {
  const large = path.join(base, 'large');
  fs.rmSync(large, { recursive: true, force: true });
  fs.mkdirSync(large, { recursive: true });
  fs.writeFileSync(path.join(large, 'manifest.yaml'), 'kind: Solution\n');
  fs.writeFileSync(path.join(large, 'big.bin'), '');
  fs.truncateSync(path.join(large, 'big.bin'), 4 * 1024 ** 3 + 3 * 1024 * 1024);
  tools['xorriso (4 GiB file)'] = ['xorriso', '-as', 'mkisofs', '-quiet', '-R', '-J', '-iso-level', '3', '-o', out, large];
  tools['sdk (4 GiB file)'] = [process.execPath, '--max-semi-space-size=2', cliPath, 'iso', 'create', large, '-o', out, '-q', '--volid', 'BENCH'];
  console.log('');
  for (const name of ['xorriso (4 GiB file)', 'sdk (4 GiB file)']) {
    const r = measure(name);
    console.log(`${name.padEnd(22)}${r.seconds.toFixed(2)} s wall, ${r.user.toFixed(2)} user, ${r.sys.toFixed(2)} sys, peak RSS ${r.rssMiB.toFixed(1)} MiB, ${r.size} bytes`);
  }
  fs.rmSync(large, { recursive: true, force: true });
}
if (!keep) fs.rmSync(base, { recursive: true, force: true });
