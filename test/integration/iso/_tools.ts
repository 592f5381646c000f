import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

/** The built CLI (`npm test` builds it first). */
export const CLI = path.resolve(import.meta.dirname, '../../../dist/cli.js');

export interface RunResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command and returns its output; fails the test if the command cannot start. */
export function run(cmd: string, args: readonly string[], options: { cwd?: string; input?: string } = {}): RunResult {
  const r = spawnSync(cmd, args, {
    cwd: options.cwd,
    input: options.input,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.error) throw new Error(`cannot run ${cmd}: ${r.error.message}`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs the `solution` CLI. */
export function cli(args: readonly string[]): RunResult {
  return run(process.execPath, [CLI, ...args]);
}

/** Extent LBA of each file of `isoinfo -l` (Rock Ridge names), keyed by full path. */
export function isoinfoLbas(iso: string): Map<string, number[]> {
  const out = run('isoinfo', ['-R', '-l', '-i', iso]).stdout;
  const map = new Map<string, number[]>();
  let dir = '/';
  for (const line of out.split('\n')) {
    const d = /^Directory listing of (.*)$/.exec(line);
    if (d) {
      dir = d[1]!;
      continue;
    }
    // Multi-extent sections print `[ LBA FFFF name` (no closing bracket).
    const m = /^-\S+\s+\d+\s+\d+\s+\d+\s+\d+ .*?\[\s*(\d+) [0-9A-F]+\]?\s+(.+?)\s*$/.exec(line);
    if (m) {
      const p = `${dir}${m[2]}`;
      map.set(p, [...(map.get(p) ?? []), Number(m[1])]);
    }
  }
  return map;
}
