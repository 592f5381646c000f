// `solution init` as a vendor meets it: a new folder, the SDK installed from its packed tarball
// (what npm would download), then the generated project's own tests and pack.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEMPLATE_TYPESCRIPT_RANGE } from '../../../src/packaging/_project-template.js';

const ROOT = process.cwd();
const CLI = join(ROOT, 'dist/cli.js');
const tmp = mkdtempSync(join(tmpdir(), 'cli-init-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
// The generated project's pack uses the user cache: keep it inside the test folder.
const env = { ...process.env, XDG_CACHE_HOME: join(tmp, 'cache') };

function sh(cmd: string, args: string[], cwd: string, timeout = 240_000) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env, timeout });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

let tarball = '';
beforeAll(() => {
  // dist/ is built by `npm test`'s pretest; --ignore-scripts so packing does not rebuild it under other tests.
  const r = spawnSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], { cwd: ROOT, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  tarball = join(tmp, JSON.parse(r.stdout)[0].filename);
}, 120_000);

describe('solution init', () => {
  it('creates a project whose own tests and pack pass after installing the SDK', () => {
    const init = sh(process.execPath, [CLI, 'init', 'acme-store'], tmp);
    expect(init.code, init.out).toBe(0);
    const dir = join(tmp, 'acme-store');
    expect(init.out).toContain('solution.config.ts');
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    expect(pkg.type).toBe('module');
    expect(Object.keys(pkg.scripts)).toEqual(expect.arrayContaining(['validate', 'pack', 'test']));
    expect(statSync(join(dir, 'images/operator/usr/local/bin/acme-store-operator')).mode & 0o777).toBe(0o755);
    expect(existsSync(join(dir, '.gitignore')) && existsSync(join(dir, '.github/workflows/solution.yml'))).toBe(true);

    const install = sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], dir);
    expect(install.code, install.out).toBe(0);
    const test = sh('npm', ['test'], dir);
    expect(test.code, test.out).toBe(0);
    expect(test.out).toMatch(/# pass 3\n# fail 0/);
    const packed = sh('npm', ['run', 'pack'], dir);
    expect(packed.code, packed.out).toBe(0);
    const iso = join(dir, 'out', 'acme-store-0.1.0.iso');
    const verify = sh(process.execPath, [CLI, 'verify', iso], dir);
    expect(verify.code, verify.out).toBe(0);
    // The type check is real: a wrong field fails `npm test`.
    const config = join(dir, 'solution.config.ts');
    const text = readFileSync(config, 'utf8');
    writeFileSync(config, text.replace("fsType: 'xfs'", "fsType: 'zfs'"));
    const broken = sh('npm', ['test'], dir);
    expect(broken.code).not.toBe(0);
    expect(broken.out).toMatch(/solution\.config\.ts\(\d+,\d+\): error TS2322/);
    writeFileSync(config, text);
  }, 600_000);

  it('refuses a folder with files in it and a name MetalK8s would reject, writing nothing', () => {
    const busy = join(tmp, 'busy');
    mkdirSync(busy);
    writeFileSync(join(busy, 'notes.txt'), 'keep me\n');
    const r = sh(process.execPath, [CLI, 'init', busy], tmp);
    expect(r.code).toBe(1);
    expect(r.out).toContain('[INIT_DIR_NOT_EMPTY]');
    expect(readFileSync(join(busy, 'notes.txt'), 'utf8')).toBe('keep me\n');
    const bad = sh(process.execPath, [CLI, 'init', join(tmp, 'x'), '--name', 'metalk8s-store'], tmp);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/--name: "metalk8s-store" starts with "metalk8s-".*\[INIT_NAME_INVALID\]/);
    expect(existsSync(join(tmp, 'x'))).toBe(false);
  });

  it('pins the TypeScript the SDK is checked with', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(TEMPLATE_TYPESCRIPT_RANGE).toBe(`^${pkg.devDependencies.typescript.replace(/^\^/, '')}`);
  });
});
