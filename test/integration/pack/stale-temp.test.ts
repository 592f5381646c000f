import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOST_TAG } from '../../../src/packaging/_stale-temp.js';
import { builtSolution } from '../../fixtures/solution/base.js';
import { CLI, sh, tempDir } from './_pack.js';

// A pack really killed with SIGKILL (no finally runs) leaves a temporary blob and a temporary ISO;
// the next pack and `images prune` remove them, and never the files of a writer still running.
let dir: string;
let src: string;
let out: string;
let cache: string;
let sleeper: ChildProcess;

async function solutionWith(bytes: number): Promise<void> {
  await writeFile(join(src, 'payload.bin'), randomBytes(bytes));
}

/** Starts `solution pack`, SIGKILLs it as soon as `appears()` names a file, returns that name. */
async function killWhen(appears: () => string | undefined): Promise<string> {
  const child = spawn(process.execPath, [CLI, 'pack', src, '-o', out, '--cache-dir', cache, '-q'], { stdio: 'ignore' });
  const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_c, s) => r(s)));
  let seen: string | undefined;
  const deadline = Date.now() + 60_000;
  while (!seen && Date.now() < deadline && child.exitCode === null) {
    seen = appears();
    if (!seen) await new Promise((r) => setTimeout(r, 2));
  }
  child.kill('SIGKILL');
  expect(await exited, 'pack ended before it could be killed').toBe('SIGKILL');
  expect(seen).toBeDefined();
  return seen as string;
}

const blobTemps = () => (existsSync(join(cache, 'tmp')) ? readdirSync(join(cache, 'tmp')) : []);
const isoTemps = () => (existsSync(out) ? readdirSync(out).filter((n) => n.endsWith('.tmp')) : []);

beforeAll(async () => {
  dir = await tempDir('stale');
  src = join(dir, 'solution');
  out = join(dir, 'out');
  cache = join(dir, 'cache');
  await mkdir(src, { recursive: true });
  await writeFile(
    join(src, 'solution.config.json'),
    JSON.stringify(builtSolution([{ path: '/data/payload.bin', from: 'payload.bin' }])),
  );
  // A writer that is alive for the whole test: its temporary files must survive.
  sleeper = spawn('sleep', ['600'], { stdio: 'ignore' });
});

afterAll(async () => {
  sleeper?.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('temporary files of a killed pack', () => {
  it('the next pack removes the temporary blob and ISO of killed runs, and keeps those of a running writer', async () => {
    await solutionWith(64 << 20);
    const blob = await killWhen(() => blobTemps()[0]);
    expect(blobTemps()).toContain(blob);
    // Second run: the layer is being built again (its blob was never committed); wait for the ISO.
    const iso = await killWhen(() => isoTemps()[0]);
    expect(isoTemps()).toContain(iso);
    expect(iso).toMatch(new RegExp(`^\\.acme-1\\.0\\.0\\.iso\\.\\d+\\.\\d+\\.${HOST_TAG}\\.tmp$`));

    const liveBlob = `${sleeper.pid}-${HOST_TAG}-${'0'.repeat(16)}`;
    const liveIso = `.acme-1.0.0.iso.${sleeper.pid}.${Date.now()}.${HOST_TAG}.tmp`;
    await writeFile(join(cache, 'tmp', liveBlob), 'in progress');
    await writeFile(join(out, liveIso), 'in progress');

    const r = sh(process.execPath, [CLI, 'pack', src, '-o', out, '--cache-dir', cache, '-q']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(blobTemps()).toEqual([liveBlob]);
    expect(isoTemps()).toEqual([liveIso]);
    expect(readdirSync(out).filter((n) => !n.startsWith('.')).sort()).toEqual(['SHA256SUM', 'acme-1.0.0.iso']);
  }, 180_000);

  it('`images prune` removes the temporary blob of a killed pack too', async () => {
    await solutionWith(64 << 20);
    const blob = await killWhen(() => blobTemps().find((n) => !n.startsWith(`${sleeper.pid}-`)));
    expect(blobTemps()).toContain(blob);
    const r = sh(process.execPath, [CLI, 'images', 'prune', '--store', cache, '--older-than', '3650']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/1 temporary files left by killed builds/);
    expect(blobTemps()).toEqual([`${sleeper.pid}-${HOST_TAG}-${'0'.repeat(16)}`]);
  }, 120_000);
});
