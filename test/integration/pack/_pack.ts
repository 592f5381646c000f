/**
 * Helpers for the pack tests: temp folders, packing the example, the built CLI.
 */
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmod, mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pack, type PackOptions, type PackResult } from '../../../src/packaging/pack.js';

/** The repository root. */
export const ROOT = resolve(import.meta.dirname, '../../..');
/** The example every acceptance test packs. */
export const EXAMPLE = join(ROOT, 'examples/zenko-like');
/** The built CLI (`npm test` builds it first). */
export const CLI = join(ROOT, 'dist/cli.js');
/** A fixed build time, for reproducible ISOs. */
export const EPOCH = 1_700_000_000;

/** A temp folder nginx workers (user nobody) can read. */
export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `sdk-pack-${prefix}-`));
  await chmod(dir, 0o755);
  return dir;
}

/** Packs a solution folder with a fixed epoch. */
export function packFolder(configPath: string, outDir: string, cacheDir: string, extra: Partial<PackOptions> = {}): Promise<PackResult> {
  return pack({ configPath, outDir, cacheDir, sourceDateEpoch: EPOCH, ...extra });
}

/** A fresh Ed25519 key pair, as PEM. */
export function ed25519(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** Result of a command. */
export interface Ran {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion. */
export function sh(cmd: string, args: readonly string[], options: { cwd?: string } = {}): Ran {
  const r = spawnSync(cmd, args, { cwd: options.cwd ?? ROOT, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.error) throw new Error(`cannot run ${cmd}: ${r.error.message}`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs the built `solution` CLI. */
export function solution(...args: string[]): Ran {
  return sh(process.execPath, [CLI, ...args]);
}

/** Names in a folder, sorted. */
export async function names(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}
