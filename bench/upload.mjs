#!/usr/bin/env node
// Benchmark of the ISO upload of `import --upload` against OpenSSH's own clients, side by side in
// one run, to the same real sshd on 127.0.0.1 (startSshd() of the testing module):
//
//   SDK:        uploadIso(), the function `solutions.import(iso, { upload })` calls (the same
//               dist/ chunk), in a child process: login, stat of an existing copy, SFTP to
//               <name>.part while the node hashes what is written, the digest checked, rename
//   scp:        scp (OpenSSH 9: the SFTP protocol), with OpenSSH's default cipher and with
//               the SDK's cipher; and scp followed by `ssh sha256sum` (the SDK's guarantees)
//   sftp -b:    `put` in a batch file, for reference
//
// The file is random bytes (zeros or a sparse file would flatter any compression). Runs are
// paired (every client once per round, the order rotating), the destination removed and the
// page cache written back (sync) before each; the figure is the median over rounds. CPU (user,
// sys) and peak RSS are the client process's (/usr/bin/time -v); "sshd CPU" is what the server
// side of that connection used (the sshd's children's times, read from /proc before and after).
// The cipher of each connection is the one sshd logs (LogLevel DEBUG1).
//
// Run after `npm run build`: node bench/upload.mjs [--mib 1024] [--runs 5]
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const pexec = promisify(execFile);
const here = fileURLToPath(import.meta.url);
const distDir = fileURLToPath(new URL('../dist/', import.meta.url));
const args = process.argv.slice(2);
const MiB = 1024 * 1024;

// The chunk `solutions.import` loads for an upload (dist/_sftp-<hash>.js).
async function sftpChunk() {
  const found = (await readdir(distDir)).filter((f) => /^_sftp-[\w-]+\.js$/.test(f));
  if (found.length !== 1) throw new Error(`expected one dist/_sftp-*.js, found ${found.length}: run npm run build`);
  return import(join(distDir, found[0]));
}

// Child mode: one upload through the SDK; prints its own timing as JSON.
if (args[0] === '--sdk-worker') {
  const { target, local, remote, sha256 } = JSON.parse(args[1]);
  const { uploadIso } = await sftpChunk();
  let events = 0;
  let ackedAt = 0;
  const t0 = performance.now();
  const sent = await uploadIso({ ...target, privateKey: await readFile(target.keyFile) }, local, remote, sha256, {
    onBytes: () => {
      events++;
      ackedAt = performance.now();
    },
  });
  const seconds = (performance.now() - t0) / 1000;
  process.stdout.write(JSON.stringify({ seconds, ackedSeconds: (ackedAt - t0) / 1000, sent, events }));
  process.exit(0);
}

const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const SIZE_MIB = opt('mib', 1024);
const RUNS = opt('runs', 5);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (x, d = 2) => x.toFixed(d);

const { startSshd } = await import(new URL('../dist/testing/index.js', import.meta.url).href);
const { physicalLimits, limitRows } = await import('./_limits.mjs');

/** Runs a command under /usr/bin/time -v: wall seconds, user and sys seconds, peak RSS (MiB), stdout, stderr. */
async function timed(cmd, cmdArgs, input) {
  const t0 = performance.now();
  const child = spawn('/usr/bin/time', ['-v', cmd, ...cmdArgs], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  child.stdin.end(input ?? '');
  const code = await new Promise((resolve) => child.on('exit', resolve));
  const seconds = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`${cmd} ${cmdArgs.join(' ')} exited with ${code}: ${stderr.slice(-2000)}`);
  const num = (re) => Number(re.exec(stderr)?.[1] ?? Number.NaN);
  return {
    seconds,
    user: num(/User time \(seconds\): ([\d.]+)/),
    sys: num(/System time \(seconds\): ([\d.]+)/),
    rss: num(/Maximum resident set size \(kbytes\): (\d+)/) / 1024,
    stdout,
    stderr,
  };
}

/** CPU seconds (user + sys) of the sshd's waited-for children: fields 16 and 17 of /proc/<pid>/stat. */
async function sshdChildCpu(pid) {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).replace(/^.*\) /, '').split(' ');
  const hz = 100;
  return (Number(fields[13]) + Number(fields[14])) / hz;
}

const work = await mkdtemp(join(tmpdir(), 'sdk-bench-upload-'));
const sshd = await startSshd({ config: ['LogLevel DEBUG1'] });
try {
  // The ISO stand-in: random bytes, written once, hashed once (the SDK gets the digest, as
  // import passes the one it computed locally).
  const local = join(work, 'solution.iso');
  {
    const out = createWriteStream(local);
    const src = spawn('openssl', ['rand', String(SIZE_MIB * MiB)], { stdio: ['ignore', 'pipe', 'inherit'] });
    await pipeline(src.stdout, out);
  }
  const bytes = (await stat(local)).size;
  const hash = createHash('sha256');
  await pipeline(createReadStream(local), hash);
  const sha256 = hash.digest('hex');
  const remoteDir = join(sshd.dir, 'remote');
  await mkdir(remoteDir);
  const remote = join(remoteDir, 'solution.iso');
  const user = userInfo().username;
  const sshOpts = ['-i', sshd.keyFile, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR'];
  const target = { host: '127.0.0.1', port: sshd.port, user, keyFile: sshd.keyFile };

  // The SDK's cipher: what sshd logs for a first SDK upload (a warm-up, not counted).
  const cipherOf = (logText) => /kex: client->server cipher: (\S+) MAC: (\S+)/.exec(logText)?.slice(1, 3).join(' / ') ?? '?';
  const logAt = sshd.log().length;
  await timed(process.execPath, [here, '--sdk-worker', JSON.stringify({ target, local, remote, sha256 })]);
  const sdkCipher = cipherOf(sshd.log().slice(logAt));
  const sdkCipherName = sdkCipher.split(' ')[0];

  const clients = {
    sdk: {
      label: 'SDK uploadIso (SFTP, + sha256 on the node)',
      run: async () => {
        const r = await timed(process.execPath, [here, '--sdk-worker', JSON.stringify({ target, local, remote, sha256 })]);
        return { ...r, inner: JSON.parse(r.stdout) };
      },
    },
    scp: { label: 'scp, OpenSSH default cipher', run: () => timed('scp', ['-q', '-P', String(sshd.port), ...sshOpts, local, `${user}@127.0.0.1:${remote}`]) },
    scpSame: {
      label: "scp, the SDK's cipher",
      run: () => timed('scp', ['-q', '-c', sdkCipherName, '-P', String(sshd.port), ...sshOpts, local, `${user}@127.0.0.1:${remote}`]),
    },
    scpSum: {
      label: "scp + ssh sha256sum (SDK's cipher)",
      run: async () => {
        const a = await timed('scp', ['-q', '-c', sdkCipherName, '-P', String(sshd.port), ...sshOpts, local, `${user}@127.0.0.1:${remote}`]);
        const b = await timed('ssh', ['-c', sdkCipherName, '-p', String(sshd.port), ...sshOpts, `${user}@127.0.0.1`, `sha256sum ${remote}`]);
        if (!b.stdout.startsWith(sha256)) throw new Error(`sha256sum on the node: ${b.stdout}`);
        return { seconds: a.seconds + b.seconds, user: a.user + b.user, sys: a.sys + b.sys, rss: Math.max(a.rss, b.rss) };
      },
    },
    sftp: { label: 'sftp -b (put), OpenSSH default cipher', run: () => timed('sftp', ['-q', '-b', '-', '-P', String(sshd.port), ...sshOpts, `${user}@127.0.0.1`], `put ${local} ${remote}\n`) },
  };
  const names = Object.keys(clients);
  const results = Object.fromEntries(names.map((n) => [n, []]));
  const ciphers = { sdk: sdkCipher };
  for (let round = 0; round < RUNS; round++) {
    const order = names.map((_, i) => names[(i + round) % names.length]);
    for (const name of order) {
      await rm(remote, { force: true });
      await pexec('sync');
      const cpu0 = await sshdChildCpu(sshd.pid);
      const at = sshd.log().length;
      const r = await clients[name].run();
      await new Promise((res) => setTimeout(res, 200)); // the connection's sshd exits and is waited for
      const got = (await stat(remote)).size;
      if (got !== bytes) throw new Error(`${name}: ${got} bytes on the node, expected ${bytes}`);
      results[name].push({ ...r, sshdCpu: (await sshdChildCpu(sshd.pid)) - cpu0 });
      ciphers[name] ??= cipherOf(sshd.log().slice(at));
      process.stderr.write(`round ${round + 1} ${name}: ${fmt(r.seconds)} s\n`);
    }
  }
  const limits = await physicalLimits([local], work);

  const med = (name, key) => median(results[name].map((r) => r[key]));
  const mibps = (name) => bytes / MiB / med(name, 'seconds');
  const rows = names.map((n) => {
    const runs = results[n].map((r) => fmt(r.seconds)).join(' / ');
    return `| ${clients[n].label} | ${ciphers[n]} | ${fmt(med(n, 'seconds'))} (${runs}) | ${fmt(mibps(n), 0)} | ${fmt(mibps(n) / mibps('scp'))} | ${fmt(mibps(n) / mibps('scpSame'))} | ${fmt(med(n, 'user'))} + ${fmt(med(n, 'sys'))} | ${fmt(med(n, 'sshdCpu'))} | ${fmt(med(n, 'rss'), 0)} |`;
  });
  console.log(`\nUpload of ${fmt(bytes / MiB, 0)} MiB of random bytes to sshd on 127.0.0.1, medians of ${RUNS} paired rounds\n`);
  console.log('| client | cipher / MAC | seconds (runs) | MiB/s | vs scp default | vs scp same cipher | client CPU user + sys s | sshd CPU s | client peak RSS MiB |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  console.log(rows.join('\n'));
  console.log(limitRows(limits, bytes).join('\n'));
  const inner = (key) => median(results.sdk.map((r) => r.inner[key]));
  console.log(
    `\nSDK inside its process (medians): last byte acknowledged at ${fmt(inner('ackedSeconds'))} s, verified and renamed at ${fmt(inner('seconds'))} s; the rest of the wall time is node's start and the module load`,
  );
  console.log(`SDK / scp throughput: ${fmt(mibps('sdk') / mibps('scp'))} (default cipher), ${fmt(mibps('sdk') / mibps('scpSame'))} (same cipher); goal >= 0.90`);
} finally {
  await sshd.stop();
  await rm(work, { recursive: true, force: true });
}
