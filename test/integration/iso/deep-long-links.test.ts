/**
 * `solution iso create` as a general tool: a tree deeper than ECMA-119's 8 levels, a name longer
 * than Joliet's 103 characters, and hard links, read back with bsdtar, xorriso and isoinfo.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, run } from './_tools.js';

let tmp: string;
let src: string;
let iso: string;
let created: ReturnType<typeof cli>;
const deepDir = 'a/b/c/d/e/f/g/h/i/j/k';
const longName = `${'very-long-name-'.repeat(8)}end.txt`; // 127 characters

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iso-deep-'));
  src = path.join(tmp, 'src');
  fs.mkdirSync(path.join(src, deepDir), { recursive: true });
  fs.writeFileSync(path.join(src, deepDir, 'deep.txt'), 'eleven levels down\n');
  fs.mkdirSync(path.join(src, 'long'));
  fs.writeFileSync(path.join(src, 'long', longName), 'long name\n');
  fs.mkdirSync(path.join(src, 'links'));
  fs.writeFileSync(path.join(src, 'links', 'one'), 'shared by three names\n');
  fs.linkSync(path.join(src, 'links', 'one'), path.join(src, 'links', 'two'));
  fs.linkSync(path.join(src, 'links', 'one'), path.join(src, 'long', 'three'));
  fs.writeFileSync(path.join(src, 'links', 'alone'), 'one name\n');
  iso = path.join(tmp, 'out.iso');
  created = cli(['iso', 'create', src, '-o', iso]);
});

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('deep trees, long names and hard links', () => {
  it('is written, with a warning for the cut Joliet name and the deep path', () => {
    expect(created.status, created.stderr).toBe(0);
    expect(created.stderr).toContain(`warning: long/${longName}: the Joliet name is cut to 103 characters`);
    expect(created.stderr).toContain('[ISO_JOLIET_NAME_CUT]');
    expect(created.stderr).toMatch(/warning: a\/b\/c\/d\/e\/f\/g: holds directories deeper than the 8 levels of ECMA-119.*\[ISO_DEEP_PATH\]/);
  });

  it('bsdtar extracts every file with its full Rock Ridge name, eleven levels deep', () => {
    const out = path.join(tmp, 'bsdtar');
    fs.mkdirSync(out);
    const r = run('bsdtar', ['-xf', iso, '-C', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(fs.readFileSync(path.join(out, deepDir, 'deep.txt'), 'utf8')).toBe('eleven levels down\n');
    expect(fs.readFileSync(path.join(out, 'long', longName), 'utf8')).toBe('long name\n');
    expect(fs.readFileSync(path.join(out, 'long', 'three'), 'utf8')).toBe('shared by three names\n');
  });

  it('bsdtar sees the hard links as such, with their real link count; xorriso finds no difference with the source', () => {
    const r = run('bsdtar', ['-tvf', iso]);
    expect(r.status, r.stderr).toBe(0);
    const line = (p: string) => r.stdout.split('\n').find((l) => l.includes(` ${p}`)) ?? '';
    for (const p of ['links/one', 'links/two', 'long/three']) expect(line(p)).toMatch(/^-rw-r--r--\s+3 /);
    expect(r.stdout).toMatch(/ link to links\/one$|links\/two link to |long\/three link to /m);
    expect(line('links/alone')).toMatch(/^-rw-r--r--\s+1 /);
    // xorriso (which shows no link counts) compares every file and directory with the source tree.
    const cmp = run('xorriso', ['-indev', iso, '-compare_r', src, '/']);
    expect(cmp.status, cmp.stdout + cmp.stderr).toBe(0);
    expect(cmp.stdout + cmp.stderr).not.toMatch(/differs|MISMATCH|not found/i);
  });

  it('isoinfo: the deep file in the Rock Ridge listing, the Joliet name cut to 103, link counts', () => {
    const rr = run('isoinfo', ['-R', '-f', '-i', iso]);
    expect(rr.stdout).toContain(`/${deepDir}/deep.txt`);
    const joliet = run('isoinfo', ['-J', '-f', '-i', iso]);
    const cut = joliet.stdout.split('\n').find((l) => l.startsWith('/long/very-long'));
    expect(cut).toBeDefined();
    expect(cut!.slice('/long/'.length)).toHaveLength(103);
    expect(cut!.endsWith('end.txt') || cut!.endsWith('.txt')).toBe(true);
    expect(run('isoinfo', ['-J', '-x', cut!, '-i', iso]).stdout).toBe('long name\n');
    const listing = run('isoinfo', ['-R', '-l', '-i', iso]).stdout;
    expect(listing).toMatch(/-rw-r--r--\s+3\s+0\s+0\s+22 .* one\s*$/m);
    expect(listing).toMatch(/-rw-r--r--\s+1\s+0\s+0\s+9 .* alone\s*$/m);
  });
});
