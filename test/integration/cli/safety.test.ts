import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtSolution } from '../../fixtures/solution/base.js';

// The built CLI, as a user runs it (`npm test` builds first): ordinary mistakes get typed codes,
// non-regular files are refused at once, and every command stops on SIGINT and SIGTERM.
const CLI = join(process.cwd(), 'dist/cli.js');
const tmp = mkdtempSync(join(tmpdir(), 'cli-safety-'));
afterAll(() => {
  spawnSync('umount', [join(tmp, 'full')]);
  rmSync(tmp, { recursive: true, force: true });
});

function solution(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000' } });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** A solution folder whose operator image copies `files` (`path in image` → `from`). */
function solutionDir(name: string, files: Record<string, string>): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'solution.config.json'),
    JSON.stringify(builtSolution(Object.entries(files).map(([path, from]) => ({ path, from })))),
  );
  return dir;
}

describe('ordinary mistakes: typed codes naming the field or file, and what to do', () => {
  it('validate /etc/passwd: not a solution file, said plainly (nothing redacted)', () => {
    const r = solution('validate', '/etc/passwd');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: \/etc\/passwd is not a solution file: its name does not end in \.ts/);
    expect(r.stderr).toMatch(/\[SOLUTION_FILE_UNKNOWN_TYPE\]/);
    expect(r.stderr).not.toMatch(/redacted/);
  });

  it('validate checks the files on disk: missing, a folder, outside the folder (also through a symlink); the report says what was checked', () => {
    const dir = solutionDir('inputs', { '/bin/a': 'missing.bin', '/bin/b': 'sub', '/bin/c': '/etc/passwd', '/bin/d': 'escape' });
    mkdirSync(join(dir, 'sub'));
    symlinkSync('/etc/hostname', join(dir, 'escape'));
    const r = solution('validate', dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/images\[0\]\.source\.layers\[0\]\.files\[0\]\.from: .*missing\.bin does not exist \[INPUT_NOT_FOUND\]/);
    expect(r.stderr).toMatch(/files\[1\]\.from: .*sub is a folder, not a file \[INPUT_IS_DIRECTORY\]/);
    expect(r.stderr).toMatch(/files\[2\]\.from: \/etc\/passwd is outside the solution folder .*\[INPUT_OUTSIDE_SOLUTION\]/);
    expect(r.stderr).toMatch(/files\[3\]\.from: .*escape \(through a symlink, to \/etc\/hostname\) is outside the solution folder/);
    expect(r.stderr).not.toMatch(/looks like a bug|\n\s+at /);
  });

  it('a symlink that stays inside the folder is followed, and the target\'s mode is kept; the outside opt-in works', () => {
    const dir = solutionDir('links', { '/usr/bin/tool': 'link-to-tool', '/etc/hosts-copy': '/etc/hostname' });
    mkdirSync(join(dir, 'real'));
    writeFileSync(join(dir, 'real', 'tool'), '#!/bin/sh\necho hi\n');
    chmodSync(join(dir, 'real', 'tool'), 0o755);
    symlinkSync('real/tool', join(dir, 'link-to-tool'));
    expect(solution('validate', dir).code).toBe(1);
    const ok = solution('validate', dir, '--allow-outside-inputs');
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/inputs checked on disk: 2 build files/);
    const packed = solution('pack', dir, '-o', join(dir, 'out'), '--cache-dir', join(tmp, 'cache'), '--allow-outside-inputs', '-q');
    expect(packed.stderr).toBe('');
    expect(packed.code).toBe(0);
    // The layer as containerd would unpack it: the symlinked file's content and 0755.
    const root = join(dir, 'x');
    expect(solution('iso', 'extract', join(dir, 'out', 'acme-1.0.0.iso'), root).code).toBe(0);
    const layerDir = join(root, 'images/acme-operator/1.0.0');
    const manifest = JSON.parse(spawnSync('cat', [join(layerDir, 'manifest.json')], { encoding: 'utf8' }).stdout) as { layers: { digest: string }[] };
    const listing = spawnSync('tar', ['-tvzf', join(layerDir, manifest.layers[0]!.digest.slice(7))], { encoding: 'utf8' }).stdout;
    expect(listing).toMatch(/^-rwxr-xr-x 0\/0\s+18 .* usr\/bin\/tool$/m);
    expect(listing).not.toMatch(/^l/m);
  });

  it('pack: -o naming an existing file, and a full disk, each with its own code; nothing half-written is left', () => {
    const dir = solutionDir('small', { '/bin/app': 'app' });
    // Random bytes: the layer does not compress below the 1 MiB of the full file system.
    writeFileSync(join(dir, 'app'), randomBytes(4 << 20));
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    const exists = solution('pack', dir, '-o', file, '--cache-dir', join(tmp, 'cache'), '-q');
    expect(exists.code).toBe(1);
    expect(exists.stderr).toMatch(/a-file already exists and is in the way .*\[FILE_EXISTS\]/);
    expect(exists.stderr).toMatch(/hint: /);
    const full = join(tmp, 'full');
    mkdirSync(full);
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', full], { encoding: 'utf8' });
    if (m.status !== 0) {
      console.log(`skipping the full-disk part: cannot mount a 1 MiB tmpfs here (${m.stderr.trim()})`);
      return;
    }
    const r = solution('pack', dir, '-o', full, '--cache-dir', join(tmp, 'cache'), '-q');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no space left on the device .*\[DISK_FULL\]/);
    expect(r.stderr).not.toMatch(/looks like a bug/);
    expect(readdirSync(full)).toEqual([]);
  });
});

describe('numeric flags: a bad value is refused before the command does anything', () => {
  it('images prune --older-than abc / -1 / empty removes nothing; 0 removes the unused blob', async () => {
    const { openBlobStore } = await import('../../../src/packaging/images/index.js');
    const dir = join(tmp, 'prune-store');
    const store = await openBlobStore({ dir });
    const blob = await store.put(randomBytes(1000));
    for (const bad of ['abc', '-1', '', '3O']) {
      const r = solution('images', 'prune', '--store', dir, '--older-than', bad);
      expect(r.code, bad).toBe(1);
      expect(r.stderr).toContain('--older-than');
      expect(r.stderr).toContain('[OPTION_VALUE_INVALID]');
      expect(r.stderr).toContain('hint: For example --older-than 30.');
      expect(existsSync(store.path(blob.digest)), bad).toBe(true);
    }
    // --json: the one JSON error event, on stdout, though no command had started.
    const j = solution('images', 'prune', '--store', dir, '--older-than', 'NaN', '--json');
    expect(j.code).toBe(1);
    expect(JSON.parse(j.stdout)).toMatchObject({ type: 'error', code: 'VALIDATION_FAILED', issues: [{ code: 'OPTION_VALUE_INVALID', path: '--older-than' }] });
    const ok = solution('images', 'prune', '--store', dir, '--older-than', '0', '--json');
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).data.removed).toBe(1);
    expect(existsSync(store.path(blob.digest))).toBe(false);
  });

  it('is checked before any connection: the flag is named, not the unreachable registry or cluster', () => {
    const env = { KUBECONFIG: join(tmp, 'no-such-kubeconfig') };
    const cases: [string[], string][] = [
      [['images', 'pull', '--concurrency', '0', 'docker://127.0.0.1:1/x:1'], '--concurrency'],
      [['images', 'layout', '-o', join(tmp, 'layout'), '--concurrency', '1.5', '-i', 'a:1=docker://127.0.0.1:1/x:1'], '--concurrency'],
      [['pack', 'examples/zenko-like', '-o', join(tmp, 'never'), '--concurrency', 'four'], '--concurrency'],
      [['pack', 'examples/zenko-like', '-o', join(tmp, 'never'), '--source-date-epoch', '-5'], '--source-date-epoch'],
      [['nodes', 'drain', 'node-1', '--timeout', 'soon'], '--timeout'],
      [['nodes', 'drain', 'node-1', '--grace-period', '2.5'], '--grace-period'],
      [['nodes', 'remove', 'node-1', '--volumes-timeout', '0'], '--volumes-timeout'],
      [['nodes', 'declare', 'node-1', '-r', 'node', '--host', 'h', '--port', '70000'], '--port'],
      [['import', 'x.iso', '--upload', '--ssh-host', '127.0.0.1', '--ssh-key', '/dev/null', '--ssh-port', 'ssh'], '--ssh-port'],
      [['logs', 'env', 'zenko', '--tail', '-3'], '--tail'],
      [['volumes', 'apply', 'examples/zenko-like', '--timeout', 'NaN'], '--timeout'],
      [['support-bundle', '-o', join(tmp, 'b.tar.gz'), '--max-size', '0'], '--max-size'],
    ];
    for (const [args, flag] of cases) {
      const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...env } });
      expect(r.status, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toContain(`error   ${flag}: `);
      expect(r.stderr, args.join(' ')).toContain('[OPTION_VALUE_INVALID]');
    }
    expect(existsSync(join(tmp, 'never'))).toBe(false);
    expect(existsSync(join(tmp, 'layout'))).toBe(false);
  });
});

describe('non-regular files and signals', () => {
  let fifo: string;
  beforeAll(() => {
    fifo = join(tmp, 'an.iso');
    spawnSync('mkfifo', [fifo]);
  });

  it('verify and inspect refuse a FIFO at once', () => {
    for (const cmd of ['verify', 'inspect']) {
      const t = Date.now();
      const r = solution(cmd, fifo);
      expect(r.signal, `${cmd} hung`).toBeNull();
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/is a FIFO \(named pipe\), not an ISO image file \[ISO_NOT_REGULAR_FILE\]/);
      expect(Date.now() - t).toBeLessThan(10_000);
    }
  });

  /** Starts the CLI, waits until it has run for a while, sends `signal`, returns how it ended. */
  async function interrupt(args: string[], signal: NodeJS.Signals, ready: () => boolean): Promise<{ code: number | null; stderr: string; ms: number }> {
    const child: ChildProcess = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const ended = new Promise<number | null>((r) => child.on('exit', (code, sig) => r(code ?? (sig ? -1 : null))));
    // -1: ended by the signal itself, i.e. no handler ran.
    const deadline = Date.now() + 20_000;
    while (!ready() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const t = Date.now();
    child.kill(signal);
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const code = await ended;
    clearTimeout(killer);
    return { code, stderr, ms: Date.now() - t };
  }

  it('a command waiting on an API server that never answers stops on SIGTERM and on SIGINT', async () => {
    // A TCP server that accepts connections and never says a word.
    const sockets: net.Socket[] = [];
    const server = net.createServer((s) => sockets.push(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const kubeconfig = join(tmp, 'silent.kubeconfig');
    writeFileSync(
      kubeconfig,
      `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:${port}\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    token: abc\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n`,
    );
    try {
      for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
        const before = sockets.length;
        const r = await interrupt(['status', '--kubeconfig', kubeconfig, '--salt-api-url', `https://127.0.0.1:${port}`, '--salt-api-username', 'u', '--salt-api-token', 't'], signal, () => sockets.length > before);
        expect(r.code, `${signal}: ${r.stderr}`).not.toBe(-1);
        expect([code, 130], r.stderr).toContain(r.code);
        expect(r.ms).toBeLessThan(8000);
        expect(r.stderr).not.toMatch(/\n\s+at /);
      }
    } finally {
      for (const s of sockets) s.destroy();
      server.close();
    }
  }, 60_000);

  it('validate of a solution file that is a FIFO stops on SIGTERM', async () => {
    const dir = join(tmp, 'fifo-solution');
    mkdirSync(dir);
    spawnSync('mkfifo', [join(dir, 'solution.config.json')]);
    // Ready once it has been running a while (reading a FIFO shows nothing from outside).
    const t0 = Date.now();
    const r = await interrupt(['validate', join(dir, 'solution.config.json')], 'SIGTERM', () => Date.now() - t0 > 1500);
    expect(r.code).not.toBe(-1);
    expect(r.code).not.toBe(0);
    expect(r.ms).toBeLessThan(8000);
    expect(existsSync(dir)).toBe(true);
  }, 30_000);
});

describe('output read by a command that stops early', () => {
  it('`solution iso ls | head -1` and `solution iso cat | head -c 10` stop quietly with success, not with write EPIPE', () => {
    const dir = join(tmp, 'many-files');
    mkdirSync(dir);
    // More than a pipe buffer (64 KiB) of listing, and a file larger than one.
    for (let i = 0; i < 3000; i++) writeFileSync(join(dir, `file-with-a-long-name-${i}.txt`), `${i}\n`);
    writeFileSync(join(dir, 'big.bin'), randomBytes(2 * 1024 * 1024));
    const iso = join(tmp, 'many-files.iso');
    expect(solution('iso', 'create', dir, '-o', iso).code).toBe(0);
    for (const [cmd, reader] of [
      [`"${process.execPath}" "${CLI}" iso ls "${iso}"`, 'head -1'],
      [`"${process.execPath}" "${CLI}" iso cat "${iso}" /big.bin`, 'head -c 10'],
    ] as const) {
      // bash's PIPESTATUS gives the CLI's own exit code; its stderr goes to a file.
      const errFile = join(tmp, 'epipe.err');
      const r = spawnSync('bash', ['-c', `${cmd} 2>"${errFile}" | ${reader} >/dev/null; echo "\${PIPESTATUS[0]}"`], { encoding: 'utf8', timeout: 60_000 });
      expect({ cmd: cmd.split(' ').slice(2, 4).join(' '), exit: r.stdout.trim(), stderr: spawnSync('cat', [errFile], { encoding: 'utf8' }).stdout }).toEqual({
        cmd: cmd.split(' ').slice(2, 4).join(' '),
        exit: '0',
        stderr: '',
      });
    }
  }, 60_000);
});
