// The physical limits every benchmark table shows next to its figures (imported by the
// benchmarks; not a benchmark itself):
//   - `cat` of the same bytes into one file on the same filesystem (what copying them costs the
//     kernel with no format, no hashing and no process start-up worth counting);
//   - SHA-256 throughput of every core at once on bytes in memory (what hashing them can cost at
//     best), and of one core.
//
//   import { physicalLimits, limitRows } from './_limits.mjs';
//   const limits = await physicalLimits(files, outDir);
//   console.log(limitRows(limits, totalBytes).join('\n'));
import { spawn } from 'node:child_process';
import { rm, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

const MiB = 1024 * 1024;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// cat through xargs, the file list on stdin, so any number of files fits.
async function catFiles(files, out) {
  await new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', 'xargs -0 cat > "$0"', out], { stdio: ['pipe', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`cat exited with ${code}`))));
    child.stdin.end(files.map((f) => `${f}\0`).join(''));
  });
}

/** SHA-256 throughput in MiB/s of `threads` threads hashing 128 KiB chunks in memory for ~`seconds`. */
export async function sha256Throughput(threads, seconds = 1) {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { createHash } = require('node:crypto');
    const buf = Buffer.alloc(128 * 1024, 7);
    const h = createHash('sha256');
    let bytes = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < workerData * 1000) { h.update(buf); bytes += buf.length; }
    h.digest();
    parentPort.postMessage({ bytes, seconds: (performance.now() - t0) / 1000 });
  `;
  const results = await Promise.all(
    Array.from({ length: threads }, () => new Promise((resolve, reject) => {
      const w = new Worker(code, { eval: true, workerData: seconds });
      w.once('message', resolve);
      w.once('error', reject);
    })),
  );
  return results.reduce((n, r) => n + r.bytes / r.seconds, 0) / MiB;
}

/**
 * The limits for `files` (absolute paths, read in this order), with the copy written into
 * `outDir` (same filesystem as the benchmark's outputs).
 */
export async function physicalLimits(files, outDir, runs = 3) {
  let bytes = 0;
  for (const f of files) bytes += (await stat(f)).size;
  const out = join(outDir, 'limits-cat.out');
  const times = [];
  for (let i = 0; i < runs; i++) {
    await rm(out, { force: true });
    const t0 = performance.now();
    await catFiles(files, out);
    times.push((performance.now() - t0) / 1000);
  }
  await rm(out, { force: true });
  const cores = availableParallelism();
  return {
    bytes,
    catSeconds: median(times),
    sha256OneCoreMiBps: await sha256Throughput(1),
    sha256AllCoresMiBps: await sha256Throughput(cores),
    cores,
  };
}

/** Markdown table rows (| what | figure |) for the limits, `bytes` being the benchmark's size. */
export function limitRows(limits, bytes = limits.bytes) {
  const f = (x, d = 2) => x.toFixed(d);
  const gib = bytes / 1024 / MiB;
  return [
    `| physical limit: cat of the same ${f(limits.bytes / MiB, 0)} MiB | ${f(limits.catSeconds)} s (${f(limits.bytes / MiB / limits.catSeconds, 0)} MiB/s) |`,
    `| physical limit: SHA-256, 1 core | ${f(limits.sha256OneCoreMiBps, 0)} MiB/s (${f((gib * 1024) / limits.sha256OneCoreMiBps)} s for ${f(gib)} GiB) |`,
    `| physical limit: SHA-256, all ${limits.cores} cores | ${f(limits.sha256AllCoresMiBps, 0)} MiB/s (${f((gib * 1024) / limits.sha256AllCoresMiBps)} s for ${f(gib)} GiB) |`,
  ];
}
