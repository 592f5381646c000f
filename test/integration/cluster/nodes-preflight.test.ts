/**
 * cluster.nodes.preflight against a real sshd on 127.0.0.1 (this machine plays the new node),
 * with the networks pillar read from the emulator's bootstrap minion. Every check family runs
 * once with settings this host passes and once with settings it fails, and the evidence is the
 * host's own (addresses, packages, processes, listeners, clock).
 */
import net from 'node:net';
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Cluster, connect, type NodeProgressEvent, type PreflightCheck } from '../../../src/cluster/index.js';
import { kubeRequest } from '../../../src/_kube.js';
import { type MetalK8sEmulator, startMetalK8s, startSshd, type TestSshd, uniqueSuffix } from '../../../src/testing/index.js';
import { emulatorEnv, runCli } from './_cli.js';

describe('nodes: preflight over SSH', () => {
  const node = `pf-${uniqueSuffix()}`;
  let sshd: TestSshd;
  let mk8s: MetalK8sEmulator;
  let cluster: Cluster;
  let listener: net.Server;
  let busyPort: number;

  const byId = (checks: readonly PreflightCheck[]) => Object.fromEntries(checks.map((c) => [c.id, c]));

  beforeAll(async () => {
    sshd = await startSshd();
    mk8s = await startMetalK8s({ kubeconfigYaml: await readFile(inject('kubeconfigPath'), 'utf8'), storageOperator: false });
    cluster = await connect({ kubeconfigYaml: mk8s.kubeconfigYaml, saltApi: { url: mk8s.saltApi.url, username: mk8s.saltApi.username, token: mk8s.saltApi.token } });
    const user = userInfo().username;
    await cluster.nodes.declare(node, { roles: ['workload'], ssh: { host: '127.0.0.1', port: sshd.port, user, sudo: user !== 'root' } });
    listener = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => listener.once('listening', r));
    busyPort = (listener.address() as net.AddressInfo).port;
  });

  afterAll(async () => {
    listener?.close();
    await kubeRequest(cluster.kubeConfig, 'DELETE', `/api/v1/nodes/${node}`).catch(() => undefined);
    await mk8s?.stop();
    await sshd?.stop();
  });

  it('passes on this host, each check with the evidence it read', async () => {
    const events: NodeProgressEvent[] = [];
    const freeish = String(busyPort + 1 === 65536 ? busyPort - 1 : busyPort + 1);
    const r = await cluster.nodes.preflight(node, {
      ssh: { privateKey: sshd.key },
      listeners: { node: { [freeish]: 'kubelet' } },
      onProgress: (e) => events.push(e),
    });
    const c = byId(r.checks);
    expect(Object.keys(c)).toEqual(['ssh', 'privileges', 'os', 'control-plane-ip', 'workload-plane-ip', 'packages', 'services', 'ports', 'containerd-fs', 'service-route', 'clock', 'dns']);
    expect(events.filter((e) => e.type === 'check')).toHaveLength(12);
    expect(c.ssh).toMatchObject({ status: 'pass', evidence: `logged in as ${userInfo().username}@127.0.0.1:${sshd.port}` });
    expect(c.privileges?.status).toBe('pass');
    // The networks pillar of the emulator: 127.0.0.0/8 for both planes.
    expect(c['control-plane-ip']).toMatchObject({ status: 'pass', evidence: 'lo 127.0.0.1 is in 127.0.0.0/8' });
    expect(c['workload-plane-ip']?.status).toBe('pass');
    expect(c.packages).toMatchObject({ status: 'pass', evidence: 'none of docker, docker-ce, containerd.io is installed' });
    expect(c.services).toMatchObject({ status: 'pass', evidence: expect.stringContaining('firewalld: inactive') });
    expect(c.ports).toMatchObject({ status: 'pass', evidence: `ports ${freeish} are free` });
    expect(c['containerd-fs']).toMatchObject({ status: 'pass', evidence: expect.stringContaining('not xfs') });
    expect(c['service-route']).toMatchObject({ status: 'pass', evidence: expect.stringMatching(/^route default .* covers 10\.96\.0\.0\/12$/) });
    expect(c.clock?.status).toBe('pass');
    expect(c.dns).toMatchObject({ status: 'pass', evidence: expect.stringContaining(' → ') });
    // This machine runs Debian, not an EL8 host: a warning, not a failure.
    expect(c.os?.status).toBe('warn');
    expect(r.ok).toBe(true);
  });

  it('fails each family with what it found on the host', async () => {
    const r = await cluster.nodes.preflight(node, {
      ssh: { privateKey: sshd.key },
      networks: { controlPlane: ['10.200.0.0/16'], workloadPlane: ['10.201.0.0/16'], service: '10.96.0.0/12' },
      conflictingPackages: ['openssh-server'],
      conflictingServices: ['sshd'],
      listeners: { node: { [String(busyPort)]: 'kubelet' } },
      resolveNames: ['no-such-host.invalid'],
      // A host 5 minutes ahead of this machine.
      now: () => Date.now() - 300_000,
    });
    const c = byId(r.checks);
    expect(r.ok).toBe(false);
    expect(c['control-plane-ip']).toMatchObject({ status: 'fail', evidence: expect.stringMatching(/^no address in 10\.200\.0\.0\/16; the host has .*lo 127\.0\.0\.1/) });
    expect(c['workload-plane-ip']?.status).toBe('fail');
    expect(c.packages).toMatchObject({ status: 'fail', evidence: expect.stringMatching(/^installed: openssh-server \S+/) });
    expect(c.services).toMatchObject({ status: 'fail', evidence: expect.stringMatching(/^sshd: active/) });
    expect(c.ports).toMatchObject({ status: 'fail', evidence: `127.0.0.1:${busyPort} is held by "node", MetalK8s needs it for kubelet` });
    expect(c.clock).toMatchObject({ status: 'fail', evidence: expect.stringMatching(/^host clock is 3\d{5} ms ahead of this machine/) });
    expect(c.dns).toMatchObject({ status: 'fail', evidence: 'the host cannot resolve no-such-host.invalid' });
  });

  it('a key the host refuses fails the ssh check and runs nothing else', async () => {
    const r = await cluster.nodes.preflight(node, { ssh: { privateKey: sshd.otherKey } });
    expect(r.ok).toBe(false);
    expect(r.checks).toEqual([
      expect.objectContaining({ id: 'ssh', status: 'fail', evidence: expect.stringContaining(`127.0.0.1:${sshd.port}: All configured authentication methods failed`) }),
    ]);
  });

  it('the CLI prints the checks as a table and exits 1 when one fails', async () => {
    const env = emulatorEnv(inject('kubeconfigPath'), mk8s.saltApi);
    const refused = await runCli(env, ['nodes', 'preflight', node, '--key', `${sshd.dir}/host_key`]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/^CHECK\s+STATUS\s+EVIDENCE\nssh\s+fail\s+\S+@127\.0\.0\.1:\d+: All configured authentication methods failed/);
    expect(refused.stdout.trim().split('\n').at(-1)).toBe('preflight FAILED');
    const json = await runCli(env, ['nodes', 'preflight', node, '--key', sshd.keyFile, '--json']);
    const lines = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; check?: { id: string }; data?: { checks: unknown[] } });
    expect(lines.filter((l) => l.type === 'check').map((l) => l.check?.id)).toContain('dns');
    expect(lines.at(-1)?.type).toBe('result');
    expect(lines.at(-1)?.data?.checks).toHaveLength(12);
  });
});
