#!/usr/bin/env node
// Mutation fuzzing of the SDK's ISO reader. Seeds are images written by the SDK, xorriso and
// genisoimage (those two when installed); each iteration flips, overwrites or truncates bytes
// (mostly in the metadata), then opens the image, walks every view and reads every file. Every
// failure must be an IsoError; anything else, or an iteration slower than 5 s, is a bug and
// stops the run with the seed needed to replay it.
//
//   npm run build && node bench/fuzz-iso.mjs [--iterations 100000] [--seed 1]
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { IsoError } from '../dist/index.js';
import { openIso, writeIso } from '../dist/packaging/index.js';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const iterations = Number(opt('--iterations', '100000'));
const seed = Number(opt('--seed', '1'));

function rng(s) {
  let x = s >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

function mutate(img0, hot, random) {
  const img = Uint8Array.from(img0);
  const pick = (n) => Math.floor(random() * n);
  const interesting = [0, 1, 2, 0x7f, 0x80, 0xff, 0x22, 0x34];
  const dv = new DataView(img.buffer);
  const count = 1 + pick(8);
  for (let i = 0; i < count; i++) {
    const where = random() < 0.9 ? 16 * 2048 + pick(Math.max(1, hot - 16 * 2048)) : pick(img.length);
    const kind = pick(4);
    if (kind === 0) img[where] ^= 1 << pick(8);
    else if (kind === 1) img[where] = interesting[pick(interesting.length)];
    else if (kind === 2) img[where] = pick(256);
    else if (where + 8 <= img.length) {
      const v = [0, 1, 0xffffffff, 0x7fffffff, 16, 17, 18, 19, 20][pick(9)];
      dv.setUint32(where, v, true);
      dv.setUint32(where + 4, v, false);
    }
  }
  return random() < 0.05 ? img.subarray(0, pick(img.length)) : img;
}

async function readEverything(image) {
  const iso = await openIso(image);
  const views = ['primary'];
  if (iso.hasRockRidge) views.push('rockridge');
  if (iso.hasJoliet) views.push('joliet');
  for (const view of views) {
    for await (const e of iso.walk({ view })) {
      if (e.type === 'file') for await (const _ of iso.createReadStream(e)) void _;
    }
  }
  await iso.close();
}

/** An image without its trailing padding, and where its file data starts. */
async function seedOf(bytes) {
  const iso = await openIso(bytes);
  const list = await iso.list();
  const files = list.filter((e) => e.type === 'file' && e.size > 0);
  const firstData = Math.min(...files.map((e) => e.extents[0].lba));
  const end = Math.max(...list.flatMap((e) => e.extents.map((x) => x.lba * 2048 + x.size)));
  return { bytes: bytes.subarray(0, Math.max(end, firstData * 2048)), hot: firstData * 2048 };
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fuzz-iso-'));
const seeds = [];
try {
  const src = path.join(tmp, 'src');
  fs.mkdirSync(path.join(src, 'images/app/1.0'), { recursive: true });
  fs.mkdirSync(path.join(src, 'a/b/c'), { recursive: true });
  fs.writeFileSync(path.join(src, 'manifest.yaml'), 'kind: Solution\n');
  fs.writeFileSync(path.join(src, 'images/app/1.0', 'f'.repeat(64)), Buffer.alloc(5000, 1));
  fs.writeFileSync(path.join(src, `${'ü'.repeat(90)}.txt`), 'long unicode name\n');
  fs.writeFileSync(path.join(src, 'a/b/c/deep.txt'), 'deep\n');
  fs.symlinkSync(`../${'t'.repeat(200)}/x`, path.join(src, 'link'));
  const entries = [];
  const walk = (rel) => {
    for (const name of fs.readdirSync(path.join(src, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(path.join(src, r));
      if (st.isDirectory()) {
        entries.push({ path: r, type: 'directory' });
        walk(r);
      } else if (st.isSymbolicLink()) entries.push({ path: r, type: 'symlink', target: fs.readlinkSync(path.join(src, r)) });
      else entries.push({ path: r, type: 'file', source: { kind: 'path', path: path.join(src, r) } });
    }
  };
  walk('');
  const sdkIso = path.join(tmp, 'sdk.iso');
  await writeIso({ entries, output: sdkIso, volumeId: 'FUZZ' });
  seeds.push(['sdk', await seedOf(fs.readFileSync(sdkIso))]);
  const tools = [
    ['xorriso', ['-as', 'mkisofs', '-quiet', '-R', '-J', '-joliet-long', '-iso-level', '3', '-o']],
    ['genisoimage', ['-quiet', '-R', '-J', '-joliet-long', '-input-charset', 'utf-8', '-o']],
  ];
  for (const [tool, flags] of tools) {
    const out = path.join(tmp, `${tool}.iso`);
    const r = spawnSync(tool, [...flags, out, src]);
    if (r.error || r.status !== 0) console.log(`seed from ${tool} skipped: ${r.error?.message ?? `exit ${r.status}`}`);
    else seeds.push([tool, await seedOf(fs.readFileSync(out))]);
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}

console.log(`seeds: ${seeds.map(([n, s]) => `${n} (${s.bytes.length} bytes)`).join(', ')}; ${iterations} iterations, seed ${seed}`);
const random = rng(seed);
const codes = {};
let ok = 0;
let slowest = 0;
const started = performance.now();
for (let i = 0; i < iterations; i++) {
  const [name, s] = seeds[i % seeds.length];
  const image = mutate(s.bytes, s.hot, random);
  const t = performance.now();
  try {
    await readEverything(image);
    ok++;
  } catch (err) {
    if (!(err instanceof IsoError)) {
      console.error(`iteration ${i} (seed ${seed}, from ${name}) threw a non-IsoError:`, err);
      process.exit(1);
    }
    codes[err.code] = (codes[err.code] ?? 0) + 1;
  }
  const ms = performance.now() - t;
  slowest = Math.max(slowest, ms);
  if (ms > 5000) {
    console.error(`iteration ${i} (seed ${seed}, from ${name}) took ${ms.toFixed(0)} ms`);
    process.exit(1);
  }
  if ((i + 1) % 10000 === 0) console.log(`  ${i + 1} done`);
}
const total = (performance.now() - started) / 1000;
console.log(`${iterations} mutated images in ${total.toFixed(1)} s: ${ok} read without error, ${iterations - ok} IsoErrors, no other exception`);
console.log(`slowest iteration: ${slowest.toFixed(1)} ms`);
console.log('error codes:', Object.entries(codes).sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(', '));
