/**
 * The lifecycle commands of the built CLI (`dist/cli.js`) against the emulator on the shared
 * control plane, with the connection from KUBECONFIG and the METALK8S_SALT_API_* variables that
 * `solution emulator up` prints. The ISO is a minimal Solution with no CRD, so nothing
 * cluster-wide is touched.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type MetalK8sEmulator, startMetalK8s, uniqueSuffix } from '../../../src/testing/index.js';
import { CLI, emulatorEnv, runCli } from './_cli.js';

const pexec = promisify(execFile);

describe('solution import / activate / env / status / deactivate / remove (CLI)', () => {
  let mk8s: MetalK8sEmulator;
  let dir: string;
  let iso: string;
  let env: NodeJS.ProcessEnv;
  const name = `cli${uniqueSuffix()}`.replace(/[^a-z0-9]/g, '').slice(0, 20);
  const envName = `${name}-env`;

  const solution = (...args: string[]) => runCli(env, args);
  const result = (stdout: string) => {
    const line = stdout.split('\n').find((l) => l.startsWith('{"type":"result"'));
    return (JSON.parse(line ?? '{}') as { data?: Record<string, unknown> }).data;
  };

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
    dir = await mkdtemp(path.join(tmpdir(), 'sdk-lifecycle-cli-'));
    const tree = path.join(dir, 'tree');
    await mkdir(path.join(tree, 'images'), { recursive: true });
    await writeFile(
      path.join(tree, 'manifest.yaml'),
      `apiVersion: solutions.metalk8s.scality.com/v1alpha1\nkind: Solution\nmetadata:\n  name: ${name}\nspec:\n  version: 1.0.0\n  images: []\n`,
    );
    await writeFile(path.join(tree, 'registry-config.inc.j2'), '');
    iso = path.join(dir, `${name}-1.0.0.iso`);
    await pexec('xorriso', ['-as', 'mkisofs', '-quiet', '-rock', '-joliet', '-iso-level', '3', '-o', iso, tree]);
    mk8s = await startMetalK8s({ storageOperator: false, kubeconfigYaml: await readFile(inject('kubeconfigPath'), 'utf8') });
    env = emulatorEnv(inject('kubeconfigPath'), mk8s.saltApi);
  }, 300_000);

  afterAll(async () => {
    await mk8s?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('runs the lifecycle with --json results, and each command twice converges', async () => {
    const i1 = await solution('import', iso, '--json');
    expect(i1.code, i1.stderr).toBe(0);
    expect(result(i1.stdout)).toMatchObject({ id: `${name}-1.0.0`, changed: true });
    expect(result((await solution('import', iso, '--json')).stdout)).toMatchObject({ changed: false });

    const a = await solution('activate', name);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toContain(`${name} 1.0.0 is active`);

    expect((await solution('env', 'create', envName, '-d', 'CLI test')).code).toBe(0);
    const list = await solution('env', 'list', '--json');
    expect((result(list.stdout) as unknown as { name: string; description: string }[]).find((e) => e.name === envName)).toMatchObject({ description: 'CLI test' });

    const add = await solution('env', 'add', envName, name, '1.0.0');
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toContain(`${name} 1.0.0 runs in ${envName}`);
    expect((await solution('env', 'add', envName, name, '1.0.0')).stdout).toContain('already ran');

    const status = await solution('status');
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`${name}\\s+1\\.0\\.0\\s+yes\\s+${envName}\\s+${envName}:Available`));

    const rm1 = await solution('env', 'remove', envName, name);
    expect(rm1.stdout).toContain(`${name} removed from ${envName}`);
    expect(rm1.stderr).toContain('leaves');
    expect((await solution('env', 'remove', envName, name)).stdout).toContain('was not in');

    const d = await solution('deactivate', name);
    expect(d.stdout).toContain(`${name} is deactivated`);
    expect((await solution('deactivate', name)).stdout).toContain(`${name} was not active`);
    expect((await solution('remove', iso)).stdout).toContain(`removed ${name}-1.0.0`);
    expect((await solution('remove', iso)).stdout).toContain('was not imported');
    expect((await solution('env', 'delete', envName)).code).toBe(0);
  });

  it('bad input: typed errors on stderr, exit code 1', async () => {
    const missing = await solution('activate', name, '9.9.9');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('SOLUTION_VERSION_NOT_IMPORTED');
    const noCreds = await pexec(process.execPath, [CLI, 'status'], { env: { PATH: process.env.PATH, KUBECONFIG: inject('kubeconfigPath') } }).catch((e: { code: number; stderr: string }) => e);
    expect((noCreds as { code: number }).code).toBe(1);
    expect((noCreds as { stderr: string }).stderr).toContain('SALT_API_CREDENTIALS_MISSING');
  });
});
