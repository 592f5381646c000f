/**
 * `import(iso, { upload })`: the ISO goes to the "bootstrap node" over SFTP, to a real OpenSSH
 * sshd on 127.0.0.1 (the emulator's bootstrap node is this machine), is checked there with
 * sha256sum, and is imported from its remote path.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Cluster, connect, type LifecycleProgressEvent } from '../../../src/cluster/index.js';
import { type MetalK8sEmulator, startMetalK8s, startSshd, type TestSshd, uniqueSuffix } from '../../../src/testing/index.js';

const pexec = promisify(execFile);

describe('import with SFTP upload to the bootstrap node', () => {
  let dir: string;
  let sshd: TestSshd | undefined;
  let mk8s: MetalK8sEmulator;
  let cluster: Cluster;
  let iso: string;
  let port: number;
  let key: string;
  const name = `sftp${uniqueSuffix()}`.replace(/[^a-z0-9]/g, '').slice(0, 20);

  beforeAll(async () => {
    sshd = await startSshd();
    ({ dir, port, key } = sshd);

    const tree = path.join(dir, 'tree');
    await mkdir(path.join(tree, 'images'), { recursive: true });
    await writeFile(path.join(tree, 'manifest.yaml'), `apiVersion: solutions.metalk8s.scality.com/v1alpha1\nkind: Solution\nmetadata:\n  name: ${name}\nspec:\n  version: 1.0.0\n`);
    await writeFile(path.join(tree, 'registry-config.inc.j2'), '');
    await mkdir(path.join(dir, 'local'));
    iso = path.join(dir, 'local', `${name}-1.0.0.iso`);
    await pexec('xorriso', ['-as', 'mkisofs', '-quiet', '-rock', '-joliet', '-iso-level', '3', '-o', iso, tree]);

    mk8s = await startMetalK8s({ storageOperator: false, kubeconfigYaml: await readFile(inject('kubeconfigPath'), 'utf8') });
    cluster = await connect({
      kubeconfigYaml: mk8s.kubeconfigYaml,
      saltApi: { url: mk8s.saltApi.url, username: mk8s.saltApi.username, token: mk8s.saltApi.token },
      ssh: { host: '127.0.0.1', port, user: userInfo().username, privateKey: key },
    });
  }, 300_000);

  afterAll(async () => {
    await mk8s?.stop();
    await sshd?.stop();
  });

  it('uploads with progress, checks the sha256 on the node, imports from there; a rerun sends nothing', async () => {
    const remoteDir = path.join(dir, 'remote', 'archives');
    const events: LifecycleProgressEvent[] = [];
    const r = await cluster.solutions.import(iso, { upload: { remoteDir }, onProgress: (e) => events.push(e) });
    expect(r).toMatchObject({ id: `${name}-1.0.0`, archive: path.join(remoteDir, `${name}-1.0.0.iso`), changed: true });
    expect(await readFile(r.archive)).toEqual(await readFile(iso));
    const uploads = events.filter((e) => e.type === 'upload');
    expect(uploads.at(-1)).toMatchObject({ bytes: (await readFile(iso)).length, total: (await readFile(iso)).length });
    const again: LifecycleProgressEvent[] = [];
    expect((await cluster.solutions.import(iso, { upload: { remoteDir }, onProgress: (e) => again.push(e) })).changed).toBe(false);
    expect(again).toContainEqual(expect.objectContaining({ type: 'step', step: 'upload', status: 'skipped' }));
    expect(again.some((e) => e.type === 'upload')).toBe(false);
    expect((await cluster.solutions.remove(r.archive)).changed).toBe(true);
  });

  it('the CLI: solution import --upload with --ssh-* flags, JSON upload events', async () => {
    const cli = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../dist/cli.js');
    const remoteDir = path.join(dir, 'remote', 'cli');
    const { stdout } = await pexec(
      process.execPath,
      [cli, 'import', iso, '--upload', '--remote-dir', remoteDir, '--ssh-host', '127.0.0.1', '--ssh-port', String(port), '--ssh-user', userInfo().username, '--ssh-key', path.join(dir, 'client_key'), '--json'],
      {
        env: {
          ...process.env,
          KUBECONFIG: inject('kubeconfigPath'),
          METALK8S_SALT_API_URL: mk8s.saltApi.url,
          METALK8S_SALT_API_USERNAME: mk8s.saltApi.username,
          METALK8S_SALT_API_TOKEN: mk8s.saltApi.token,
        },
        timeout: 120_000,
      },
    );
    const events = stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; data?: { archive?: string; changed?: boolean } });
    expect(events.some((e) => e.type === 'upload')).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'result', data: { archive: path.join(remoteDir, `${name}-1.0.0.iso`), changed: true } });
    expect((await cluster.solutions.remove(path.join(remoteDir, `${name}-1.0.0.iso`))).changed).toBe(true);
  });

  it('a wrong key is a typed SSH error and nothing is imported', async () => {
    const other = await connect({
      kubeconfigYaml: mk8s.kubeconfigYaml,
      saltApi: { url: mk8s.saltApi.url, username: mk8s.saltApi.username, token: mk8s.saltApi.token },
      ssh: { host: '127.0.0.1', port, user: userInfo().username, privateKey: sshd?.otherKey ?? '' },
    });
    const err = await other.solutions.import(iso, { upload: { remoteDir: path.join(dir, 'other') } }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SSH_FAILED' });
    expect((await cluster.solutions.list()).some((s) => s.name === name)).toBe(false);
  });
});
