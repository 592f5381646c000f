// One CLI vocabulary: -o/--out for what a command writes (former flags still accepted), -q for
// errors only, and the build time taken from the last git commit when packing in a work tree.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildImage, openBlobStore, writeOciLayout } from '../../../src/packaging/images/index.js';

const CLI = join(process.cwd(), 'dist/cli.js');
const tmp = mkdtempSync(join(tmpdir(), 'cli-vocab-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const cache = join(tmp, 'cache');

function solution(args: string[], env: Record<string, string | undefined> = {}, cwd?: string) {
  const e: Record<string, string | undefined> = { ...process.env, SOURCE_DATE_EPOCH: '1700000000', ...env };
  for (const k of Object.keys(e)) if (e[k] === undefined) delete e[k];
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: e as NodeJS.ProcessEnv, cwd });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('one CLI vocabulary', () => {
  it('pack writes where -o/--out says, still accepts --out-dir, and refuses two different outputs', () => {
    const a = solution(['pack', 'examples/zenko-like', '--out', join(tmp, 'a'), '--cache-dir', cache, '--json']);
    expect(a.code, a.stderr).toBe(0);
    expect(existsSync(join(tmp, 'a', 'zenko-2.6.0.iso'))).toBe(true);
    const b = solution(['pack', 'examples/zenko-like', '--out-dir', join(tmp, 'b'), '--cache-dir', cache, '--json']);
    expect(b.code, b.stderr).toBe(0);
    expect(existsSync(join(tmp, 'b', 'zenko-2.6.0.iso'))).toBe(true);
    const both = solution(['pack', 'examples/zenko-like', '-o', join(tmp, 'c'), '--out-dir', join(tmp, 'd'), '--cache-dir', cache]);
    expect(both.code).toBe(1);
    expect(both.stderr).toContain('OPTION_CONFLICT');
    expect(existsSync(join(tmp, 'c')) || existsSync(join(tmp, 'd'))).toBe(false);
    // --out-dir is not advertised any more.
    expect(solution(['pack', '--help']).stdout).not.toContain('--out-dir');
  });

  it('-q prints nothing on success (the example has a warning), and the error alone on failure', () => {
    const ok = solution(['pack', 'examples/zenko-like', '-o', join(tmp, 'q'), '--cache-dir', cache, '-q']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe('');
    expect(ok.stderr).toBe('');
    const v = solution(['validate', 'examples/zenko-like', '-q']);
    expect([v.code, v.stdout, v.stderr]).toEqual([0, '', '']);
    // verify -q: silent on a clean ISO; the problems alone (on stderr) otherwise.
    const iso = join(tmp, 'q', 'zenko-2.6.0.iso');
    expect(solution(['verify', iso, '-q'])).toMatchObject({ code: 0, stdout: '', stderr: '' });
    mkdirSync(join(tmp, 'lone'));
    copyFileSync(iso, join(tmp, 'lone', 'zenko-2.6.0.iso'));
    const lone = solution(['verify', join(tmp, 'lone', 'zenko-2.6.0.iso'), '-q']);
    expect(lone.stdout).toBe('');
    expect(lone.stderr).toMatch(/warning .*SHA256SUM/);
    const missing = solution(['pack', join(tmp, 'nowhere'), '-o', join(tmp, 'q2'), '-q']);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toMatch(/^error: .*nowhere does not exist \[SOLUTION_FILE_NOT_FOUND\]/);
  });

  it('iso create and iso extract take -o/--out (iso create still accepts --output)', () => {
    const src = join(tmp, 'tree');
    mkdirSync(src);
    writeFileSync(join(src, 'hello.txt'), 'hi\n');
    expect(solution(['iso', 'create', src, '--out', join(tmp, 't1.iso'), '-q']).code).toBe(0);
    expect(solution(['iso', 'create', src, '--output', join(tmp, 't2.iso'), '-q']).code).toBe(0);
    expect(solution(['iso', 'extract', join(tmp, 't1.iso'), '-o', join(tmp, 'x'), '-q']).code).toBe(0);
    expect(existsSync(join(tmp, 'x', 'hello.txt'))).toBe(true);
  });

  it('images layout writes where -o says (the positional folder still works)', async () => {
    const store = await openBlobStore({ dir: join(tmp, 'layout-store') });
    const image = await buildImage({ layers: [{ files: [{ path: '/hello', content: 'hi' }] }] }, { store });
    await writeOciLayout([{ image, reference: 'v1' }], join(tmp, 'oci'), { store });
    const spec = `hello:1.0.0=oci:${join(tmp, 'oci')}:v1`;
    const a = solution(['images', 'layout', '-o', join(tmp, 'la'), '-i', spec, '--store', join(tmp, 'layout-store'), '-q']);
    expect(a.code, a.stderr).toBe(0);
    expect(existsSync(join(tmp, 'la', 'images/hello/1.0.0/manifest.json'))).toBe(true);
    const b = solution(['images', 'layout', join(tmp, 'lb'), '-i', spec, '--store', join(tmp, 'layout-store'), '-q']);
    expect(b.code, b.stderr).toBe(0);
    expect(existsSync(join(tmp, 'lb', 'registry-config.inc.j2'))).toBe(true);
  });

  it('packs with the last commit time inside a git work tree, and says where the time came from', () => {
    const repo = join(tmp, 'repo');
    mkdirSync(repo);
    writeFileSync(
      join(repo, 'solution.config.json'),
      JSON.stringify({
        name: 'dated',
        version: '1.0.0',
        operator: { image: 'dated-operator' },
        images: [{ name: 'dated-operator', tag: '1.0.0', source: { kind: 'build', layers: [{ files: [{ path: '/usr/bin/dated-operator', content: '#!/bin/sh\n', mode: 0o755 }] }] } }],
      }),
    );
    const git = (...args: string[]) =>
      execFileSync('git', ['-C', repo, ...args], {
        env: { ...process.env, GIT_AUTHOR_DATE: '@1750000000 +0000', GIT_COMMITTER_DATE: '@1750000000 +0000', GIT_AUTHOR_NAME: 'v', GIT_AUTHOR_EMAIL: 'v@example.com', GIT_COMMITTER_NAME: 'v', GIT_COMMITTER_EMAIL: 'v@example.com' },
      });
    // Outside a work tree (a copy under the temp folder): the epoch, said so.
    const before = solution(['pack', repo, '-o', join(tmp, 'g0'), '--cache-dir', cache], { SOURCE_DATE_EPOCH: undefined });
    expect(before.code, before.stderr).toBe(0);
    expect(before.stdout).toContain('built at 1970-01-01T00:00:00Z (no git commit nor SOURCE_DATE_EPOCH: the epoch)');
    git('init', '-q');
    git('add', '.');
    git('commit', '-qm', 'first');
    const r = solution(['pack', repo, '-o', join(tmp, 'g1'), '--cache-dir', cache], { SOURCE_DATE_EPOCH: undefined });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('built at 2025-06-15T15:06:40Z (last git commit)');
    const j = solution(['pack', repo, '-o', join(tmp, 'g2'), '--cache-dir', cache, '--json'], { SOURCE_DATE_EPOCH: undefined });
    const result = JSON.parse(j.stdout.trim().split('\n').at(-1) ?? '{}').data;
    expect(result.buildTime).toEqual({ epoch: 1750000000, from: 'git' });
    // SOURCE_DATE_EPOCH still wins.
    const env = solution(['pack', repo, '-o', join(tmp, 'g3'), '--cache-dir', cache]);
    expect(env.stdout).toContain('built at 2023-11-14T22:13:20Z ($SOURCE_DATE_EPOCH)');
  });
});
