#!/usr/bin/env node
// Benchmark of `pack` against the reference MetalK8s pipeline, side by side in one run.
//
// Images: N images (default 4), each a shared base layer (default 100 MiB) plus an own layer
// (default 200 MiB) of random bytes, gzip-compressed, built with the SDK's buildImage and pushed
// with skopeo to a local docker-registry (TLS, self-signed). Both pipelines pull them from
// there: the SDK through `registry` sources (insecure: true), the reference through skopeo.
//
//   SDK:        pack() of a solution with those images (a child process, to measure its RSS)
//   reference:  skopeo copy --format v2s2 --dest-compress docker://… dir:root/images/<n>/<t>
//               per image, hardlink -c root/images, the registry snippet, genisoimage with
//               MetalK8s' flags, sha256sum > SHA256SUM
//
// Measured: cold runs (empty blob store / empty root), interleaved, medians; a warm repack with
// nothing changed; a warm repack after one image changed (one new layer); peak RSS of each
// side with /usr/bin/time; `verify` of both ISOs.
//
// Run after `npm run build`:
//   node bench/pack.mjs [--images 4] [--base-mib 100] [--own-mib 200] [--runs 3]
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const pexec = promisify(execFile);
const here = fileURLToPath(import.meta.url);
const dist = (p) => new URL(`../dist/${p}`, import.meta.url).href;
const args = process.argv.slice(2);
const MiB = 1024 * 1024;
const EPOCH = 1_700_000_000;

// Child mode: pack the benchmark solution; prints the result as JSON.
if (args[0] === '--child-pack') {
  const [, host, count, outDir, cacheDir] = args;
  const { defineSolution } = await import(dist('index.js'));
  const { pack } = await import(dist('packaging/index.js'));
  const images = [];
  for (let i = 0; i < Number(count); i++) {
    images.push({ name: `app${i}`, tag: '1.0.0', source: { kind: 'registry', reference: `${host}/bench/app${i}:1.0.0`, insecure: true } });
  }
  const solution = defineSolution({ name: 'bench', version: '1.0.0', operator: { image: 'app0' }, images });
  const t0 = performance.now();
  const r = await pack({ solution, outDir, cacheDir, sourceDateEpoch: EPOCH });
  const downloaded = r.images.reduce((n, i) => n + i.bytesDownloaded, 0);
  process.stdout.write(JSON.stringify({ seconds: (performance.now() - t0) / 1000, path: r.path, size: r.size, downloaded, timings: r.timings }));
  process.exit(0);
}

// Child mode: the reference pipeline's registry snippet (stands in for static-container-registry.py).
if (args[0] === '--child-snippet') {
  const [, root] = args;
  const { registryConfigTemplate } = await import(dist('packaging/index.js'));
  const { createHash } = await import('node:crypto');
  const { readdir } = await import('node:fs/promises');
  const images = new Map();
  for (const name of (await readdir(join(root, 'images'))).sort()) {
    const tags = new Map();
    for (const tag of (await readdir(join(root, 'images', name))).sort()) {
      tags.set(tag, createHash('sha256').update(await readFile(join(root, 'images', name, tag, 'manifest.json'))).digest('hex'));
    }
    images.set(name, tags);
  }
  await writeFile(join(root, 'registry-config.inc.j2'), registryConfigTemplate(images));
  process.exit(0);
}

const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const N = opt('images', 4);
const BASE = opt('base-mib', 100);
const OWN = opt('own-mib', 200);
const RUNS = opt('runs', 3);

async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Runs a command under /usr/bin/time; returns wall seconds, peak RSS (MiB) and stdout. */
async function timed(cmd, cmdArgs, env) {
  const t0 = performance.now();
  const { stdout, stderr } = await pexec('/usr/bin/time', ['-f', 'MAXRSS=%M', cmd, ...cmdArgs], { maxBuffer: 64 * MiB, env: { ...process.env, ...env } });
  const seconds = (performance.now() - t0) / 1000;
  const rss = Number(/MAXRSS=(\d+)/.exec(stderr)?.[1] ?? 0) / 1024;
  return { seconds, rss, stdout };
}

// The snippet step runs our own generator in a fresh node process, standing in for MetalK8s'
// static-container-registry.py: its time is not charged to the reference.
const withoutSnippet = (t) => ({ ...t, seconds: t.seconds - Number(/snippet=([\d.]+)/.exec(t.stdout)?.[1] ?? 0) });
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (x, d = 2) => x.toFixed(d);

// The reference pipeline as a shell script: $1 host, $2 root, $3 out dir, $4 images to copy.
const REFERENCE = `set -e
host=$1; root=$2; out=$3; shift 3
mkdir -p "$root/images" "$out"
now() { date +%s.%N; }
t0=$(now)
for img in "$@"; do
  rm -rf "$root/images/$img/1.0.0"
  mkdir -p "$root/images/$img"
  skopeo copy --quiet --format v2s2 --dest-compress --src-tls-verify=false "docker://$host/bench/$img:1.0.0" "dir:$root/images/$img/1.0.0"
done
t1=$(now)
hardlink -c "$root/images" > /dev/null
t2=$(now)
"$NODE" "$BENCH" --child-snippet "$root"
cp "$MANIFEST" "$root/manifest.yaml"
t3=$(now)
genisoimage -output "$out/bench-1.0.0.iso" -quiet -rock -joliet -joliet-long -full-iso9660-filenames -volid "Bench 1.0.0" -iso-level 3 -gid 0 -uid 0 -input-charset utf-8 -output-charset utf-8 "$root"
t4=$(now)
cd "$out" && sha256sum bench-1.0.0.iso > SHA256SUM
t5=$(now)
awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v e="$t4" -v f="$t5" 'BEGIN { printf "skopeo=%.2f hardlink=%.2f snippet=%.2f genisoimage=%.2f sha256sum=%.2f\\n", b - a, c - b, d - c, e - d, f - e }'
`;

const work = await mkdtemp(join(tmpdir(), 'sdk-pack-bench-'));
let registry;
try {
  const { buildImage, openBlobStore, writeOciLayout, verify } = await import(dist('packaging/index.js'));

  // 1. Images, built once (not timed): gzip layers, as real images have.
  process.stderr.write(`building ${N} images: ${BASE} MiB shared base + ${OWN} MiB each (gzip)…\n`);
  const src = await openBlobStore({ dir: join(work, 'src-store') });
  await mkdir(join(work, 'files'));
  await writeFile(join(work, 'files', 'base.bin'), randomBytes(BASE * MiB));
  const built = [];
  for (let i = 0; i < N; i++) {
    await writeFile(join(work, 'files', `own${i}.bin`), randomBytes(OWN * MiB));
    built.push(
      await buildImage(
        { layers: [{ files: [{ path: '/base.bin', source: join(work, 'files', 'base.bin') }] }, { files: [{ path: `/own${i}.bin`, source: join(work, 'files', `own${i}.bin`) }] }], created: '2023-11-14T22:13:20Z' },
        { store: src },
      ),
    );
  }
  const logical = built.reduce((a, im) => a + im.layers.reduce((b, l) => b + l.size, 0) + im.config.size, 0);
  const unique = new Map(built.flatMap((im) => [im.config, ...im.layers].map((d) => [d.digest, d.size])));
  const uniqueBytes = [...unique.values()].reduce((a, b) => a + b, 0);

  // 2. docker-registry on loopback with a self-signed certificate; images pushed with skopeo.
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  await pexec('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(work, 'tls.key'), '-out', join(work, 'tls.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
  await writeFile(
    join(work, 'registry.yml'),
    `version: 0.1\nlog: { level: warn, accesslog: { disabled: true } }\nstorage: { filesystem: { rootdirectory: ${join(work, 'registry')} } }\nhttp: { addr: ${host}, tls: { certificate: ${join(work, 'tls.pem')}, key: ${join(work, 'tls.key')} } }\n`,
  );
  registry = spawn('docker-registry', ['serve', join(work, 'registry.yml')], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((r) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.end();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const push = async (image, name) => {
    const layout = join(work, `oci-${name}`);
    await writeOciLayout([{ image, reference: '1.0.0' }], layout, { store: src });
    await pexec('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:1.0.0`, `docker://${host}/bench/${name}:1.0.0`]);
    await rm(layout, { recursive: true, force: true });
  };
  process.stderr.write('pushing with skopeo…\n');
  for (let i = 0; i < N; i++) await push(built[i], `app${i}`);
  const manifestPath = join(work, 'manifest.yaml');
  await writeFile(manifestPath, 'apiVersion: solutions.metalk8s.scality.com/v1alpha1\nkind: Solution\nmetadata:\n  name: bench\nspec:\n  version: 1.0.0\n');
  const script = join(work, 'reference.sh');
  await writeFile(script, REFERENCE);
  const env = { NODE: process.execPath, BENCH: here, MANIFEST: manifestPath };
  const names = Array.from({ length: N }, (_, i) => `app${i}`);

  // 3. Cold runs, interleaved.
  const sdk = [];
  const ref = [];
  for (let r = 0; r < RUNS; r++) {
    process.stderr.write(`cold run ${r + 1}/${RUNS}…\n`);
    const last = r === RUNS - 1;
    const t = await timed(process.execPath, [here, '--child-pack', host, String(N), join(work, `sdk-out-${r}`), join(work, `sdk-cache-${r}`)]);
    sdk.push({ ...t, result: JSON.parse(t.stdout) });
    ref.push(withoutSnippet(await timed('bash', [script, host, join(work, `ref-root-${r}`), join(work, `ref-out-${r}`), ...names], env)));
    if (!last) {
      await rm(join(work, `sdk-out-${r}`), { recursive: true, force: true });
      await rm(join(work, `sdk-cache-${r}`), { recursive: true, force: true });
      await rm(join(work, `ref-root-${r}`), { recursive: true, force: true });
      await rm(join(work, `ref-out-${r}`), { recursive: true, force: true });
    }
  }
  const L = RUNS - 1;
  const sdkIso = sdk[L].result.path;
  const refIso = join(work, `ref-out-${L}`, 'bench-1.0.0.iso');

  // 4. Verify both ISOs (the reference one has no SDK index: warnings only).
  const v0 = performance.now();
  const vs = await verify({ path: sdkIso });
  const verifySeconds = (performance.now() - v0) / 1000;
  const vr = await verify({ path: refIso });

  // 5. Warm repack, nothing changed.
  process.stderr.write('warm repack…\n');
  const warm = await timed(process.execPath, [here, '--child-pack', host, String(N), join(work, 'sdk-warm'), join(work, `sdk-cache-${L}`)]);
  const warmResult = JSON.parse(warm.stdout);

  // 6. One image changes: a new 16 MiB layer on top of app{N-1}.
  process.stderr.write('one image changed: warm repack on both sides…\n');
  await writeFile(join(work, 'files', 'patch.bin'), randomBytes(16 * MiB));
  const changed = await buildImage(
    {
      layers: [
        { files: [{ path: '/base.bin', source: join(work, 'files', 'base.bin') }] },
        { files: [{ path: `/own${N - 1}.bin`, source: join(work, 'files', `own${N - 1}.bin`) }] },
        { files: [{ path: '/patch.bin', source: join(work, 'files', 'patch.bin') }] },
      ],
      created: '2023-11-14T22:13:20Z',
    },
    { store: src },
  );
  await push(changed, `app${N - 1}`);
  const warmChanged = await timed(process.execPath, [here, '--child-pack', host, String(N), join(work, 'sdk-warm-changed'), join(work, `sdk-cache-${L}`)]);
  const warmChangedResult = JSON.parse(warmChanged.stdout);
  const refWarm = withoutSnippet(await timed('bash', [script, host, join(work, `ref-root-${L}`), join(work, 'ref-warm-out'), `app${N - 1}`], env));

  const sdkS = median(sdk.map((x) => x.seconds));
  const refS = median(ref.map((x) => x.seconds));
  const sdkRss = Math.max(...sdk.map((x) => x.rss));
  const refRss = Math.max(...ref.map((x) => x.rss));
  const sizeOf = async (p) => (await stat(p)).size;
  const lines = [
    `images: ${N}, ${fmt(logical / MiB, 0)} MiB in all (${fmt(uniqueBytes / MiB, 0)} MiB of distinct blobs: a ${BASE} MiB base layer shared), gzip layers, pulled from docker-registry over TLS on 127.0.0.1`,
    `${RUNS} interleaved cold runs, medians (page cache warm); node ${process.version}`,
    '',
    '| run | reference (skopeo + hardlink + genisoimage + sha256sum; snippet step not counted) | SDK (pack) | SDK / reference |',
    '|---|---|---|---|',
    `| cold: empty store / empty root | ${fmt(refS)} s, peak RSS ${fmt(refRss, 0)} MiB | ${fmt(sdkS)} s, peak RSS ${fmt(sdkRss, 0)} MiB | **${fmt(sdkS / refS)}** (goal ≤ 0.50) |`,
    `| warm, nothing changed | — | ${fmt(warm.seconds)} s, ${warmResult.downloaded} bytes downloaded (manifests only), peak RSS ${fmt(warm.rss, 0)} MiB | — |`,
    `| warm, one image changed (+16 MiB layer) | ${fmt(refWarm.seconds)} s (re-copies that image), peak RSS ${fmt(refWarm.rss, 0)} MiB | ${fmt(warmChanged.seconds)} s, ${fmt(warmChangedResult.downloaded / MiB, 1)} MiB downloaded, peak RSS ${fmt(warmChanged.rss, 0)} MiB | **${fmt(warmChanged.seconds / refWarm.seconds)}** |`,
    '',
    `every cold run: SDK ${sdk.map((x) => fmt(x.seconds)).join(', ')} s; reference ${ref.map((x) => fmt(x.seconds)).join(', ')} s`,
    `SDK phases (last cold run): images ${fmt(sdk[L].result.timings.images / 1000)} s, write ${fmt(sdk[L].result.timings.write / 1000)} s; warm: write ${fmt(warmResult.timings.write / 1000)} s`,
    `reference steps (last cold run, seconds): ${ref[L].stdout.trim()}; after the change: ${refWarm.stdout.trim()}`,
    `ISO sizes: SDK ${fmt((await sizeOf(sdkIso)) / MiB, 1)} MiB, reference ${fmt((await sizeOf(refIso)) / MiB, 1)} MiB`,
    `verify: SDK ISO ${vs.ok ? 'OK' : 'FAILED'} in ${fmt(verifySeconds)} s (${fmt((await sizeOf(sdkIso)) / MiB / verifySeconds, 0)} MiB/s, ${vs.filesChecked} files, ${vs.blobsChecked} blobs); reference ISO ${vr.ok ? 'OK' : 'FAILED'} (${vr.issues.map((i) => i.code).join(', ') || 'no issue'})`,
  ];
  for (const i of [...vs.issues, ...vr.issues].filter((x) => x.severity === 'error')) lines.push(`  verify error: ${i.code} ${i.path}: ${i.message}`);
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  registry?.kill('SIGTERM');
  await rm(work, { recursive: true, force: true });
}
