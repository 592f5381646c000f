import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// The README's example, run as a vendor would: a solution.config.ts importing the package.
// The folder sits inside the repository so `metalk8s-solution-sdk` resolves to this package.
const dir = join(process.cwd(), 'test', `.tmp-readme-${process.pid}`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('README example', () => {
  it('validates and renders as the README says', () => {
    const readme = readFileSync('README.md', 'utf8');
    const code = /```ts\n(\/\/ solution\.config\.ts\n[\s\S]*?)```/.exec(readme)?.[1];
    expect(code, 'README has a ```ts block starting with // solution.config.ts').toBeDefined();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'solution.config.ts'), code!);
    const cli = join(process.cwd(), 'dist/cli.js');
    const v = spawnSync(process.execPath, [cli, 'validate', '.'], { cwd: dir, encoding: 'utf8' });
    expect(v.stderr).toBe('');
    expect(v.stdout).toMatch(/acme-store-1\.0\.0 is valid/);
    const r = spawnSync(process.execPath, [cli, 'render', '.', '--out', 'out'], { cwd: dir, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(readFileSync(join(dir, 'out/manifest.yaml'), 'utf8')).toContain('name: acme-store');
    expect(readFileSync(join(dir, 'out/platform/prometheusrules/acme-store-alerts.yaml'), 'utf8')).toContain('AcmeStoreDown');
  });
});
