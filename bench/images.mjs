#!/usr/bin/env node
// Benchmark of the images pipeline against the reference tools, side by side in one run:
//   1. pull several images (>= 500 MiB in all, sharing a base layer) from a local
//      docker-registry: the SDK's fetchImage versus `skopeo copy docker://… oci:…`;
//   1b. pull many small images (20 × 1 MiB) from the same registry behind a proxy that delays
//      every chunk 25 ms each way: skopeo image after image, the SDK image after image and 3
//      at a time (what `solution images pull` and `pack` do);
//   2. sha256 throughput: node:crypto (what the store uses) versus `sha256sum`, same bytes;
//   3. a warm rebuild: bytes downloaded when every blob is already in the store (goal: none);
//   4. laying the tree out (planRegistryLayout + writeLayout, hard links).
// Every timed pull starts after a `sync`, so that no run pays for the write-back of what came before.
// The SDK side imports `metalk8s-solution-sdk/packaging/images`, the entry point of a program
// that only moves images (the whole `packaging` entry also loads the solution model and its
// validators, about 0.1 s more: the start-up line of the output shows both).
// Run after `npm run build`: node bench/images.mjs [--base-mib 160] [--own-mib 90] [--images 4] [--runs 3]
//   [--far-images 20] [--far-mib 1] [--delay-ms 25] (--far-images 0 skips 1b)
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { limitRows, physicalLimits } from './_limits.mjs';

const pexec = promisify(execFile);
const dist = new URL('../dist/packaging/images/index.js', import.meta.url);
const wholeEntry = new URL('../dist/packaging/index.js', import.meta.url);
const { buildImage, fetchImage, openBlobStore, planRegistryLayout, writeLayout, writeOciLayout } = await import(dist.href);

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const MiB = 1024 * 1024;

// Worker mode: pull every image into a store and report bytes, so RSS is measured on its own.
// `atOnce` images are fetched at the same time, as `solution images pull` does (3); 1 is the
// one-after-another order of the SDK before it, and of the reference's loop of skopeo runs.
if (args[0] === '--pull-worker') {
  const [, storeDir, host, count, concurrency, atOnce = '1', prefix = 'img'] = args;
  const store = await openBlobStore({ dir: storeDir });
  let downloaded = 0;
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < Number(count)) {
      const i = next++;
      await fetchImage(
        { kind: 'registry', reference: `${host}/bench/${prefix}${i}:1`, plainHttp: true },
        {
          store,
          concurrency: Number(concurrency),
          onProgress: (e) => {
            if (e.type === 'image-done') downloaded += e.bytesDownloaded;
          },
        },
      );
    }
  };
  await Promise.all(Array.from({ length: Number(atOnce) }, worker));
  process.stdout.write(JSON.stringify({ seconds: (performance.now() - t0) / 1000, downloaded }));
  process.exit(0);
}

/**
 * A registry far away, on loopback: a TCP proxy that holds every chunk `delayMs` before passing
 * it on, each way (a round trip of 2 × delayMs; bandwidth is not limited). This machine has no
 * netem; the proxy delays data, not TCP's own handshakes, so a connection set-up costs one
 * delayed round trip less than on a real link.
 */
function delayProxy(target, delayMs) {
  const server = net.createServer((client) => {
    const up = net.connect(target.port, target.host);
    const pass = (from, to) => {
      from.on('data', (c) => setTimeout(() => to.write(c), delayMs));
      from.on('end', () => setTimeout(() => to.end(), delayMs));
      from.on('error', () => to.destroy());
    };
    pass(client, up);
    pass(up, client);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const BASE = opt('base-mib', 160);
const OWN = opt('own-mib', 90);
const N = opt('images', 4);
const RUNS = opt('runs', 3);
const CONCURRENCY = opt('concurrency', 4);
const FAR_IMAGES = opt('far-images', 20);
const FAR_MIB = opt('far-mib', 1);
const DELAY_MS = opt('delay-ms', 25);

async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Runs a command under /usr/bin/time; returns wall and CPU (user+sys) seconds, peak RSS (MiB) and stdout. */
async function timed(cmd, cmdArgs) {
  const t0 = performance.now();
  const { stdout, stderr } = await pexec('/usr/bin/time', ['-f', 'MAXRSS=%M CPU=%U+%S', cmd, ...cmdArgs], { maxBuffer: 64 * MiB });
  const seconds = (performance.now() - t0) / 1000;
  const rss = Number(/MAXRSS=(\d+)/.exec(stderr)?.[1] ?? 0) / 1024;
  const cpuMatch = /CPU=([\d.]+)\+([\d.]+)/.exec(stderr);
  const cpu = cpuMatch ? Number(cpuMatch[1]) + Number(cpuMatch[2]) : 0;
  return { seconds, cpu, rss, stdout };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (x, d = 2) => x.toFixed(d);

const loadBefore = loadavg()
  .map((x) => x.toFixed(2))
  .join(' ');
const work = await mkdtemp(join(tmpdir(), 'sdk-images-bench-'));
let registry;
try {
  // 1. Images: one shared base layer, one own layer each (uncompressed layers: the benchmark
  //    measures transfer, hashing and writing, not gzip).
  process.stderr.write(`building ${N} images: base ${BASE} MiB + ${OWN} MiB each…\n`);
  const src = await openBlobStore({ dir: join(work, 'src') });
  const base = randomBytes(BASE * MiB);
  const images = [];
  for (let i = 0; i < N; i++) {
    images.push(
      await buildImage(
        { layers: [{ files: [{ path: '/base.bin', content: base }] }, { files: [{ path: `/own${i}.bin`, content: randomBytes(OWN * MiB) }] }], compression: 'none' },
        { store: src },
      ),
    );
  }
  const layout = join(work, 'oci');
  await writeOciLayout(images.map((image, i) => ({ image, reference: `img${i}` })), layout, { store: src });
  const logical = images.reduce((a, im) => a + im.layers.reduce((b, l) => b + l.size, 0) + im.config.size, 0);
  const unique = new Map(images.flatMap((im) => [im.config, ...im.layers].map((d) => [d.digest, d.size])));
  const uniqueBytes = [...unique.values()].reduce((a, b) => a + b, 0);

  // 2. docker-registry on loopback, images pushed with skopeo.
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  await writeFile(
    join(work, 'registry.yml'),
    `version: 0.1\nlog: { level: warn, accesslog: { disabled: true } }\nstorage: { filesystem: { rootdirectory: ${join(work, 'registry')} } }\nhttp: { addr: ${host} }\n`,
  );
  registry = spawn('docker-registry', ['serve', join(work, 'registry.yml')], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`http://${host}/v2/`).then(() => true, () => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  process.stderr.write('pushing with skopeo…\n');
  for (let i = 0; i < N; i++) {
    await pexec('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:img${i}`, `docker://${host}/bench/img${i}:1`]);
  }

  // 3. Cold pulls, interleaved: skopeo (one oci: layout, so shared blobs are fetched once) vs the SDK.
  const sk = [];
  const sdk = [];
  for (let r = 0; r < RUNS; r++) {
    process.stderr.write(`cold pull run ${r + 1}/${RUNS}…\n`);
    const out = join(work, `skopeo-${r}`);
    // Each side starts with nothing left to write back (the images built and pushed above, the
    // previous run): a pull writes 520 MiB, and the kernel throttles writers while gigabytes of
    // dirty pages drain, which slowed the faster side most (as bench/pack.mjs does).
    await pexec('sync');
    let seconds = 0;
    let cpu = 0;
    let rss = 0;
    for (let i = 0; i < N; i++) {
      const t = await timed('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${host}/bench/img${i}:1`, `oci:${out}:img${i}`]);
      seconds += t.seconds;
      cpu += t.cpu;
      rss = Math.max(rss, t.rss);
    }
    sk.push({ seconds, cpu, rss });
    await rm(out, { recursive: true, force: true });
    const storeDir = join(work, `store-${r}`);
    await pexec('sync');
    const t = await timed(process.execPath, [fileURLToPath(import.meta.url), '--pull-worker', storeDir, host, String(N), String(CONCURRENCY)]);
    sdk.push({ seconds: t.seconds, cpu: t.cpu, rss: t.rss, downloaded: JSON.parse(t.stdout).downloaded });
    if (r < RUNS - 1) await rm(storeDir, { recursive: true, force: true });
  }
  const lastStore = join(work, `store-${RUNS - 1}`);

  // 3b. A registry far away (the proxy above: DELAY_MS each way), many small images: the case
  //     where requests wait on round trips, not on bytes. skopeo one image after another (as the
  //     reference pipeline runs it), the SDK one after another, and 3 at a time as `solution
  //     images pull` and `pack` fetch them.
  const far = { skopeo: [], one: [], three: [] };
  let farHost;
  let proxy;
  if (FAR_IMAGES > 0) {
    process.stderr.write(`far registry: ${FAR_IMAGES} images of ${FAR_MIB} MiB, ${DELAY_MS} ms each way…\n`);
    const farLayout = join(work, 'oci-far');
    const farImages = [];
    for (let i = 0; i < FAR_IMAGES; i++) {
      farImages.push({ image: await buildImage({ layers: [{ files: [{ path: `/far${i}.bin`, content: randomBytes(FAR_MIB * MiB) }] }], compression: 'none' }, { store: src }), reference: `far${i}` });
    }
    await writeOciLayout(farImages, farLayout, { store: src });
    for (let i = 0; i < FAR_IMAGES; i++) await pexec('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${farLayout}:far${i}`, `docker://${host}/bench/far${i}:1`]);
    proxy = await delayProxy({ host: '127.0.0.1', port }, DELAY_MS);
    farHost = `127.0.0.1:${proxy.address().port}`;
    for (let r = 0; r < RUNS; r++) {
      process.stderr.write(`far pull run ${r + 1}/${RUNS}…\n`);
      const out = join(work, `far-skopeo-${r}`);
      const t0 = performance.now();
      for (let i = 0; i < FAR_IMAGES; i++) await pexec('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${farHost}/bench/far${i}:1`, `oci:${out}:far${i}`]);
      far.skopeo.push((performance.now() - t0) / 1000);
      await rm(out, { recursive: true, force: true });
      for (const [key, atOnce] of [['one', 1], ['three', 3]]) {
        const storeDir = join(work, `far-store-${key}-${r}`);
        const t = await timed(process.execPath, [fileURLToPath(import.meta.url), '--pull-worker', storeDir, farHost, String(FAR_IMAGES), String(CONCURRENCY), String(atOnce), 'far']);
        far[key].push(t.seconds);
        await rm(storeDir, { recursive: true, force: true });
      }
    }
    proxy.close();
  }

  // 4. Warm rebuild into the last store: everything is there.
  const warm = await timed(process.execPath, [fileURLToPath(import.meta.url), '--pull-worker', lastStore, host, String(N), String(CONCURRENCY)]);
  const warmDownloaded = JSON.parse(warm.stdout).downloaded;

  // 5. Hashing the same bytes: sha256sum vs node:crypto (streamed, 1 MiB reads).
  const blobDir = join(lastStore, 'blobs', 'sha256');
  const files = (await readdir(blobDir)).map((f) => join(blobDir, f));
  let hashedBytes = 0;
  for (const f of files) hashedBytes += (await stat(f)).size;
  const shaT = await timed('sha256sum', files);
  const limits = await physicalLimits(files, work);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (const f of files) {
    const h = createHash('sha256');
    for await (const c of createReadStream(f, { highWaterMark: MiB })) h.update(c);
    h.digest('hex');
  }
  const nodeHash = (performance.now() - t0) / 1000;
  const c1 = process.cpuUsage(c0);
  const nodeHashCpu = (c1.user + c1.system) / 1e6;

  // 6. Start-up: node alone, and node importing each entry point (a pull pays one of them).
  const startup = { node: [], images: [], packaging: [] };
  for (let r = 0; r < RUNS; r++) {
    startup.node.push((await timed(process.execPath, ['-e', '0'])).seconds);
    startup.images.push((await timed(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(dist.href)})`])).seconds);
    startup.packaging.push((await timed(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(wholeEntry.href)})`])).seconds);
  }

  // 7. Layout (plan + hard links) of every image.
  const store = await openBlobStore({ dir: lastStore });
  const fetched = [];
  for (let i = 0; i < N; i++) fetched.push(await fetchImage({ kind: 'registry', reference: `${host}/bench/img${i}:1`, plainHttp: true }, { store }));
  const l0 = performance.now();
  const plan = await planRegistryLayout(fetched.map((image, i) => ({ name: `img${i}`, tag: '1', image })), { store });
  const written = await writeLayout(plan, join(work, 'tree'));
  const layoutSeconds = (performance.now() - l0) / 1000;

  const skS = median(sk.map((x) => x.seconds));
  const sdkS = median(sdk.map((x) => x.seconds));
  const skC = median(sk.map((x) => x.cpu));
  const sdkC = median(sdk.map((x) => x.cpu));
  const lines = [
    `images: ${N} (sum of image sizes ${fmt(logical / MiB, 0)} MiB, ${fmt(uniqueBytes / MiB, 0)} MiB of distinct blobs), ${RUNS} interleaved runs, medians`,
    '',
    `load average before the run: ${loadBefore}`,
    '',
    '| step | reference | SDK | wall ratio (reference / SDK) | CPU ratio |',
    '|---|---|---|---|---|',
    `| cold pull from docker-registry | skopeo copy → oci: ${fmt(skS)} s wall, ${fmt(skC)} s CPU, ${fmt((uniqueBytes / MiB) / skS, 0)} MiB/s, peak RSS ${fmt(Math.max(...sk.map((x) => x.rss)), 0)} MiB | fetchImage ${fmt(sdkS)} s wall, ${fmt(sdkC)} s CPU, ${fmt((uniqueBytes / MiB) / sdkS, 0)} MiB/s, peak RSS ${fmt(Math.max(...sdk.map((x) => x.rss)), 0)} MiB | ${fmt(skS / sdkS)}× | ${fmt(skC / sdkC)}× |`,
    `| sha256 of ${fmt(hashedBytes / MiB, 0)} MiB | sha256sum ${fmt(shaT.seconds)} s wall, ${fmt(shaT.cpu)} s CPU (${fmt(hashedBytes / MiB / shaT.seconds, 0)} MiB/s) | node:crypto ${fmt(nodeHash)} s wall, ${fmt(nodeHashCpu)} s CPU (${fmt(hashedBytes / MiB / nodeHash, 0)} MiB/s) | ${fmt(shaT.seconds / nodeHash)}× | ${fmt(shaT.cpu / nodeHashCpu)}× |`,
    ...(FAR_IMAGES > 0
      ? [
          `| cold pull of ${FAR_IMAGES} images of ${FAR_MIB} MiB from a registry ${2 * DELAY_MS} ms away (a delaying proxy) | skopeo copy, one image after another: ${fmt(median(far.skopeo))} s | fetchImage one after another: ${fmt(median(far.one))} s; 3 at a time (\`solution images pull\`, \`pack\`): ${fmt(median(far.three))} s | ${fmt(median(far.skopeo) / median(far.three))}× (one after another: ${fmt(median(far.skopeo) / median(far.one))}×) | — |`,
        ]
      : []),
    `| warm rebuild | — | ${fmt(warm.seconds)} s, ${warmDownloaded} bytes downloaded (manifests only, 0 blob bytes) | — | — |`,
    `| layout (plan + write) | — | ${fmt(layoutSeconds, 3)} s, ${written.linked} hard links, ${written.copied} copies, ${written.written} generated files | — | — |`,
    ...limitRows(limits, hashedBytes).map((row) => `${row} | | |`),
    '',
    `start-up (medians): node alone ${fmt(median(startup.node))} s; node + import of metalk8s-solution-sdk/packaging/images ${fmt(median(startup.images))} s (what the SDK pull pays); of metalk8s-solution-sdk/packaging ${fmt(median(startup.packaging))} s`,
    ...(FAR_IMAGES > 0 ? [`every far pull (s): skopeo ${far.skopeo.map((x) => fmt(x)).join(', ')}; SDK one at a time ${far.one.map((x) => fmt(x)).join(', ')}; SDK 3 at a time ${far.three.map((x) => fmt(x)).join(', ')}`] : []),
    `every cold pull (s): skopeo ${sk.map((x) => fmt(x.seconds)).join(', ')}; SDK ${sdk.map((x) => fmt(x.seconds)).join(', ')}`,
    `bytes downloaded by a cold SDK pull: ${sdk[0].downloaded} (distinct blobs ${uniqueBytes})`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (args.includes('--hold')) {
    // For profiling by hand: the registry stays until a signal.
    process.stderr.write(`holding until SIGINT/SIGTERM. Cold pull: node ${fileURLToPath(import.meta.url)} --pull-worker <new store dir> ${host} ${N} ${CONCURRENCY}\n`);
    await new Promise((r) => {
      process.once('SIGINT', r);
      process.once('SIGTERM', r);
    });
  }
} finally {
  registry?.kill('SIGTERM');
  await rm(work, { recursive: true, force: true });
}
