import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { SaltApiClient, saltApiFromEnv } from '../../../src/cluster/index.js';

const run = promisify(execFile);
const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../dist/cli.js');

describe('solution emulator up / down', () => {
  let stateDir = '';
  afterAll(async () => {
    if (stateDir) {
      await run(process.execPath, [cli, 'emulator', 'down', '--state-dir', stateDir]).catch(() => undefined);
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('prints export lines a shell can eval, that reach the cluster and the TLS SaltAPI, and stops cleanly', async () => {
    if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first (npm test does)`);
    stateDir = await mkdtemp(path.join(tmpdir(), 'sdk-emulator-cli-'));
    // What a vendor's CI script does: eval the output, then use the variables.
    const script = `set -e; eval "$("${process.execPath}" "${cli}" emulator up --state-dir "${stateDir}" --metalk8s-version 130)"; env`;
    const { stdout } = await run('bash', ['-c', script], { timeout: 300_000 });
    const env = Object.fromEntries(
      stdout
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    expect(env.KUBECONFIG).toBe(path.join(stateDir, 'kubeconfig'));

    const kc = new KubeConfig();
    kc.loadFromFile(env.KUBECONFIG ?? '');
    const ns = await kc.makeApiClient(CoreV1Api).readNamespace({ name: 'kube-system' });
    expect(ns.metadata?.annotations?.['metalk8s.scality.com/cluster-version']).toBe('130.0.0');
    // `up` again finds it running, and says which MetalK8s it plays.
    const again = await run(process.execPath, [cli, 'emulator', 'up', '--state-dir', stateDir]);
    expect(again.stdout.split('\n')[0]).toMatch(/^# MetalK8s emulator playing MetalK8s 130\.0\.0: /);

    const salt = saltApiFromEnv(env);
    if (!salt?.caFile) throw new Error('no SaltAPI variables (with a CA file) in the output');
    // Like MetalK8s, the SaltAPI serves TLS signed by the cluster CA.
    expect(salt.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const ca = await readFile(salt.caFile, 'utf8');
    const session = await new SaltApiClient({ ...salt, ca }).login();
    expect(session.user).toBe('system:serviceaccount:kube-system:metalk8s-sdk-admin');
    const untrusted = await new SaltApiClient(salt).login().catch((e: unknown) => e);
    expect(untrusted).toMatchObject({ code: 'SALT_UNREACHABLE' });
    expect(String((untrusted as Error).message)).toMatch(/certificate/);
    const insecure = await new SaltApiClient({ ...salt, rejectUnauthorized: false }).login();
    expect(insecure.user).toBe(session.user);

    const down = await run(process.execPath, [cli, 'emulator', 'down', '--state-dir', stateDir]);
    expect(down.stdout).toContain('unset KUBECONFIG');
    expect(existsSync(stateDir)).toBe(false);
    await expect(new SaltApiClient(salt).login()).rejects.toMatchObject({ code: 'SALT_UNREACHABLE' });
  }, 360_000);
});
