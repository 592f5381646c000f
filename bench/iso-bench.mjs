#!/usr/bin/env node
// Benchmark of the SDK's ISO writer against genisoimage and xorriso, on a 1 GiB tree (3 x 300 MiB
// plus 5,000 small files), each a whole process, run side by side and interleaved (paired runs).
// Two cases: the output does not exist yet (`new`), and it overwrites the previous image of the
// same tool (`overwrite`, the common rebuild). `sdk --no-sha256` is the writer alone, compared with
// genisoimage; `sdk` also computes the image's sha256, compared with genisoimage alone and with
// `genisoimage+sha256sum` (the reference pipeline's image plus digest). Then `solution verify` of
// the SDK's image (page cache warm), and the physical limits of this machine (bench/_limits.mjs):
// `cat` of the same bytes, and SHA-256 on one core and on all cores.
//
// Every measured run starts after `sync` (not timed): otherwise a run pays for the writeback of
// the gigabyte the previous run left dirty, and the figures swing by a second from run to run.
//
//   npm run build && node bench/iso-bench.mjs [--runs 5] [--data DIR] [--keep] [--large] [--cli dist/cli.js]
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
import { limitRows, physicalLimits } from './_limits.mjs';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const runs = Number(opt('--runs', '5'));
const base = path.resolve(opt('--data', path.join(os.tmpdir(), 'metalk8s-sdk-iso-bench')));
const keep = args.includes('--keep');
// --cli: another build of the CLI (for example the one of the previous commit), for before/after figures.
const cliPath = path.resolve(opt('--cli', path.join(import.meta.dirname, '../dist/cli.js')));
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

const sdk = [process.execPath, '--max-semi-space-size=2', cliPath, 'iso', 'create', src, '-o', out, '-q', '--volid', 'BENCH'];
const genisoimage = ['genisoimage', '-quiet', '-R', '-J', '-joliet-long', '-input-charset', 'utf-8', '-o', out, src];
const tools = {
  genisoimage,
  xorriso: ['xorriso', '-as', 'mkisofs', '-quiet', '-R', '-J', '-joliet-long', '-o', out, src],
  'sdk --no-sha256': [...sdk, '--no-sha256'],
  'genisoimage+sha256sum': ['sh', '-c', `${genisoimage.map((a) => `'${a}'`).join(' ')} && sha256sum '${out}' >/dev/null`],
  sdk,
};
/** Cases: which tools run, and whether the output exists before the run. */
const cases = [
  { mode: 'new', tools: Object.keys(tools) },
  { mode: 'overwrite', tools: ['genisoimage', 'sdk --no-sha256', 'genisoimage+sha256sum', 'sdk'] },
];

function timed(cmd, rest, okStatus = [0]) {
  spawnSync('sync');
  const r = spawnSync('/usr/bin/time', ['-v', cmd, ...rest], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (!okStatus.includes(r.status)) throw new Error(`${cmd} ${rest.join(' ')} failed (${r.status}): ${r.stderr}`);
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(r.stderr);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  const user = /User time \(seconds\): ([\d.]+)/.exec(r.stderr);
  const sys = /System time \(seconds\): ([\d.]+)/.exec(r.stderr);
  const seconds = Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]);
  return { seconds, rssMiB: Number(rss[1]) / 1024, user: Number(user[1]), sys: Number(sys[1]), stdout: r.stdout };
}

function measure(name, mode) {
  if (mode === 'new') fs.rmSync(out, { force: true });
  else if (!fs.existsSync(out)) timed(tools[name][0], tools[name].slice(1));
  const [cmd, ...rest] = tools[name];
  const r = timed(cmd, rest);
  return { ...r, size: fs.statSync(out).size };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const f2 = (x) => x.toFixed(2);

makeData();
const { total, files } = dataBytes(src);
console.log(`data: ${files} files, ${(total / 1048576).toFixed(1)} MiB in ${src}; ${runs} paired runs of each, interleaved, page cache warm, sync before each run`);
const results = {};
for (const c of cases) for (const name of c.tools) results[`${name}|${c.mode}`] = [];
for (const c of cases) for (const name of c.tools) measure(name, c.mode); // warm-up
for (let i = 0; i < runs; i++) for (const c of cases) for (const name of c.tools) results[`${name}|${c.mode}`].push(measure(name, c.mode));

const wallOf = (key) => median(results[key].map((r) => r.seconds));
const ratios = {
  'sdk --no-sha256': ['genisoimage'],
  sdk: ['genisoimage', 'genisoimage+sha256sum'],
};
console.log('');
console.log('| tool | output | wall, median (min-max) | user | sys | peak RSS | image bytes | SDK / reference |');
console.log('|---|---|---|---|---|---|---|---|');
for (const [key, rs] of Object.entries(results)) {
  const [name, mode] = key.split('|');
  const walls = rs.map((r) => r.seconds);
  const ratio = (ratios[name] ?? []).map((ref) => `${f2(wallOf(key) / wallOf(`${ref}|${mode}`))}x ${ref}`).join(', ');
  console.log(
    `| ${name} | ${mode} | ${f2(median(walls))} s (${f2(Math.min(...walls))}-${f2(Math.max(...walls))}) | ${f2(median(rs.map((r) => r.user)))} | ${f2(median(rs.map((r) => r.sys)))} | ${Math.max(...rs.map((r) => r.rssMiB)).toFixed(1)} MiB | ${rs[0].size} | ${ratio} |`,
  );
}

// verify of the SDK's image (it is not a packed solution: verify reports that, and still reads
// and hashes every byte: the whole image and every file), and sha256sum of the same file.
measure('sdk', 'new');
const isoSize = fs.statSync(out).size;
const verifyRuns = [];
const sumRuns = [];
timed(process.execPath, [cliPath, 'verify', out, '-q'], [0, 1]); // warm-up: page cache
for (let i = 0; i < runs; i++) {
  verifyRuns.push(timed(process.execPath, [cliPath, 'verify', out, '-q'], [0, 1]));
  sumRuns.push(timed('sha256sum', [out]));
}
// Cold: the image's pages dropped from the page cache (dd iflag=nocache, after sync), and the
// disk's own read speed (O_DIRECT, no page cache).
const dropImageCache = () => {
  spawnSync('sync');
  spawnSync('dd', [`if=${out}`, 'iflag=nocache', 'count=0', 'status=none']);
};
// The floor of a hashed write for any Node.js program: start Node, then SHA-256 the finished
// image's bytes (already written, in the page cache) on one core. A hashed write of a new image
// cannot take less, whatever its layout and copy cost; compared with genisoimage's write alone.
const hashOnly = "const fs=require('fs'),h=require('crypto').createHash('sha256'),b=Buffer.allocUnsafe(1<<20),fd=fs.openSync(process.argv[1],'r');let n;while((n=fs.readSync(fd,b))>0)h.update(b.subarray(0,n));h.digest('hex')";
const floorRuns = [];
for (let i = 0; i < runs; i++) floorRuns.push(timed(process.execPath, ['-e', hashOnly, out]));
const coldRuns = [];
const diskRuns = [];
for (let i = 0; i < Math.min(runs, 3); i++) {
  dropImageCache();
  coldRuns.push(timed(process.execPath, [cliPath, 'verify', out, '-q'], [0, 1]));
  diskRuns.push(timed('dd', [`if=${out}`, 'of=/dev/null', 'bs=4M', 'iflag=direct', 'status=none']));
}
const rate = (s) => `${(isoSize / 1048576 / s).toFixed(0)} MiB/s`;
const vWall = median(verifyRuns.map((r) => r.seconds));
const sWall = median(sumRuns.map((r) => r.seconds));
console.log(`| solution verify (page cache warm) | ${(isoSize / 1048576).toFixed(0)} MiB | ${f2(vWall)} s, ${rate(vWall)} | ${f2(median(verifyRuns.map((r) => r.user)))} | ${f2(median(verifyRuns.map((r) => r.sys)))} | ${Math.max(...verifyRuns.map((r) => r.rssMiB)).toFixed(1)} MiB | | |`);
console.log(`| sha256sum of the image (page cache warm) | ${(isoSize / 1048576).toFixed(0)} MiB | ${f2(sWall)} s, ${rate(sWall)} | ${f2(median(sumRuns.map((r) => r.user)))} | ${f2(median(sumRuns.map((r) => r.sys)))} | ${Math.max(...sumRuns.map((r) => r.rssMiB)).toFixed(1)} MiB | | |`);
const fWall = median(floorRuns.map((r) => r.seconds));
console.log(`| floor of a hashed write in Node.js: start node, sha256 of the finished image (page cache warm) | ${(isoSize / 1048576).toFixed(0)} MiB | ${f2(fWall)} s (${f2(Math.min(...floorRuns.map((r) => r.seconds)))}-${f2(Math.max(...floorRuns.map((r) => r.seconds)))}) | ${f2(median(floorRuns.map((r) => r.user)))} | ${f2(median(floorRuns.map((r) => r.sys)))} | ${Math.max(...floorRuns.map((r) => r.rssMiB)).toFixed(1)} MiB | | ${f2(fWall / wallOf('genisoimage|new'))}x genisoimage |`);
const cWall = median(coldRuns.map((r) => r.seconds));
const dWall = median(diskRuns.map((r) => r.seconds));
console.log(`| solution verify (image not in the page cache) | ${(isoSize / 1048576).toFixed(0)} MiB | ${f2(cWall)} s, ${rate(cWall)} | ${f2(median(coldRuns.map((r) => r.user)))} | ${f2(median(coldRuns.map((r) => r.sys)))} | ${Math.max(...coldRuns.map((r) => r.rssMiB)).toFixed(1)} MiB | | |`);
console.log(`| physical limit: the disk's read speed (dd iflag=direct bs=4M) | ${(isoSize / 1048576).toFixed(0)} MiB | ${f2(dWall)} s, ${rate(dWall)} | | | | | |`);
fs.rmSync(out, { force: true });

// The same bytes laid out as a packed solution lays out its blobs (`images/<name>/<tag>/<sha256>`,
// hard links to the same files): verify checks each blob against its name, where the bench tree
// above has 5,000 small files outside images/ that are only hashed.
const solutionSrc = path.join(base, 'solution-src');
if (!fs.existsSync(path.join(solutionSrc, '.complete'))) {
  fs.rmSync(solutionSrc, { recursive: true, force: true });
  const blobs = path.join(solutionSrc, 'images', 'bench', '1.0');
  fs.mkdirSync(blobs, { recursive: true });
  const linkBlob = (file) => {
    const digest = createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    fs.linkSync(file, path.join(blobs, digest));
  };
  for (let i = 0; i < 3; i++) linkBlob(path.join(src, `layer-${i}.tar.gz`));
  for (const d of fs.readdirSync(path.join(src, 'blobs'))) for (const f of fs.readdirSync(path.join(src, 'blobs', d))) fs.linkSync(path.join(src, 'blobs', d, f), path.join(blobs, f));
  fs.copyFileSync(path.join(src, 'manifest.yaml'), path.join(solutionSrc, 'manifest.yaml'));
  fs.writeFileSync(path.join(solutionSrc, '.complete'), '');
}
fs.rmSync(out, { force: true });
const [solutionCmd, ...solutionArgs] = sdk.map((a) => (a === src ? solutionSrc : a));
timed(solutionCmd, solutionArgs);
const solutionSize = fs.statSync(out).size;
const solutionWarm = [];
const solutionCold = [];
timed(process.execPath, [cliPath, 'verify', out, '-q'], [0, 1]);
for (let i = 0; i < runs; i++) solutionWarm.push(timed(process.execPath, [cliPath, 'verify', out, '-q'], [0, 1]));
for (let i = 0; i < Math.min(runs, 3); i++) {
  dropImageCache();
  solutionCold.push(timed(process.execPath, [cliPath, 'verify', out, '-q'], [0, 1]));
}
const solutionRate = (s) => `${(solutionSize / 1048576 / s).toFixed(0)} MiB/s`;
for (const [label, rs] of [['page cache warm', solutionWarm], ['image not in the page cache', solutionCold]]) {
  const w = median(rs.map((r) => r.seconds));
  console.log(`| solution verify, blobs laid out as in a packed solution (${label}) | ${(solutionSize / 1048576).toFixed(0)} MiB | ${f2(w)} s, ${solutionRate(w)} | ${f2(median(rs.map((r) => r.user)))} | ${f2(median(rs.map((r) => r.sys)))} | ${Math.max(...rs.map((r) => r.rssMiB)).toFixed(1)} MiB | | |`);
}
fs.rmSync(out, { force: true });

const fileList = [];
const walk = (d) => {
  for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.isFile()) fileList.push(p);
  }
};
walk(src);
const limits = await physicalLimits(fileList, base);
for (const row of limitRows(limits, total)) console.log(row.replace(/ \|$/, ' | | | | | | |'));
// The same cat over an existing copy (to a temporary file, then renamed over it): what any
// writer that keeps the old file whole until the new one is complete pays on this machine.
const catOut = path.join(base, 'limits-cat.out');
const catList = path.join(base, 'limits-cat.list');
fs.writeFileSync(catList, fileList.map((f) => `${f}\0`).join(''));
const catOver = ['-c', `xargs -0 cat < '${catList}' > '${catOut}.tmp' && mv '${catOut}.tmp' '${catOut}'`];
timed('sh', catOver);
const catOverRuns = [];
for (let i = 0; i < Math.min(runs, 3); i++) catOverRuns.push(timed('sh', catOver));
const coWall = median(catOverRuns.map((r) => r.seconds));
console.log(`| physical limit: cat of the same ${(total / 1048576).toFixed(0)} MiB over an existing copy (temporary file, rename) | ${f2(coWall)} s (${(total / 1048576 / coWall).toFixed(0)} MiB/s) | | | | | | |`);
fs.rmSync(catOut, { force: true });
fs.rmSync(catList, { force: true });

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
    const r = measure(name, 'new');
    console.log(`${name.padEnd(22)}${r.seconds.toFixed(2)} s wall, ${r.user.toFixed(2)} user, ${r.sys.toFixed(2)} sys, peak RSS ${r.rssMiB.toFixed(1)} MiB, ${r.size} bytes`);
  }
  fs.rmSync(large, { recursive: true, force: true });
}
fs.rmSync(out, { force: true });
if (!keep) fs.rmSync(base, { recursive: true, force: true });
