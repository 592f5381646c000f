import { describe, expect, it } from 'vitest';
import { deployState, encodeDeployResult, inCidr, nodeManifest, roleLabelsAndTaints } from '../../../src/cluster/_node-model.js';
import { clockCheck, containerdFsCheck, osCheck, parseNetworksPillar, portsCheck, routeCheck } from '../../../src/cluster/_preflight.js';

describe('the UI role map', () => {
  // ui/src/ducks/app/nodes.ts roleTaintMap, as metalk8s-reference.md §3.1 lists it.
  it.each([
    [['control-plane'], ['master', 'etcd'], ['master', 'etcd']],
    [['workload'], ['node'], []],
    [['infra'], ['infra'], ['infra']],
    [['control-plane', 'workload'], ['etcd', 'master', 'node'], []],
    [['control-plane', 'infra'], ['etcd', 'master', 'infra'], ['infra']],
    [['workload', 'infra'], ['infra'], []],
    [['control-plane', 'workload', 'infra'], ['etcd', 'master', 'infra'], []],
  ] as const)('%j gives labels %j and taints %j', (roles, labels, taints) => {
    expect(roleLabelsAndTaints(roles)).toEqual({ labels, taints });
  });
});

describe('nodeManifest', () => {
  it('names the field at fault', () => {
    const ssh = { host: '10.0.0.1' };
    expect(() => nodeManifest({ name: 'Node_1', roles: ['workload'], ssh }, '129.0.0')).toThrow(/^name: "Node_1"/);
    expect(() => nodeManifest({ name: 'n', roles: [], ssh }, '129.0.0')).toThrow(/^roles: no role/);
    expect(() => nodeManifest({ name: 'n', roles: ['workload'], ssh: { host: 'h', port: 70000 } }, '129.0.0')).toThrow(/^ssh\.port/);
    expect(() => nodeManifest({ name: 'n', roles: ['workload'], ssh: { host: 'h', keyPath: 'key' } }, '129.0.0')).toThrow(/^ssh\.keyPath/);
    expect(() => nodeManifest({ name: 'n', roles: ['workload'], ssh, labels: { 'node-role.kubernetes.io/master': '' } }, '129.0.0')).toThrow(/^labels\.node-role/);
    expect(() => nodeManifest({ name: 'n', roles: ['workload'], ssh, displayName: 'my node' }, '129.0.0')).toThrow(/^displayName/);
  });

  it('writes the form defaults: port 22, the salt-bootstrap key, user root', () => {
    expect(nodeManifest({ name: 'n', roles: ['workload'], ssh: { host: 'h' } }, '129.0.0').metadata.annotations).toEqual({
      'metalk8s.scality.com/ssh-user': 'root',
      'metalk8s.scality.com/ssh-port': '22',
      'metalk8s.scality.com/ssh-host': 'h',
      'metalk8s.scality.com/ssh-key-path': '/etc/metalk8s/pki/salt-bootstrap',
    });
  });
});

describe('deployState', () => {
  const node = (annotations: Record<string, string>, status: Record<string, unknown> = {}) => ({ metadata: { name: 'n', annotations }, status });
  it('reads declared, deploying, failed and deployed', () => {
    expect(deployState(node({}))).toEqual({ state: 'declared' });
    expect(deployState(node({ 'solution-sdk.metalk8s.scality.com/deploy-jid': '20261201080000123456' }))).toMatchObject({ state: 'deploying', jid: '20261201080000123456' });
    expect(deployState(node({ 'solution-sdk.metalk8s.scality.com/deploy-jid': 'starting:abc' }))).toMatchObject({ state: 'deploying', jid: undefined });
    const failed = encodeDeployResult({ ok: false, step: 'Run the highstate', comment: 'boom: "x"' });
    expect(deployState(node({ 'solution-sdk.metalk8s.scality.com/deploy-jid': '1', 'solution-sdk.metalk8s.scality.com/deploy-result': failed }))).toEqual({
      state: 'failed',
      jid: '1',
      step: 'Run the highstate',
      comment: 'boom: "x"',
    });
    expect(deployState(node({}, { addresses: [{ type: 'InternalIP', address: '10.0.0.2' }] }))).toEqual({ state: 'deployed' });
  });
});

describe('preflight parsers', () => {
  it('CIDRs', () => {
    expect(inCidr('10.1.2.3', '10.0.0.0/8')).toBe(true);
    expect(inCidr('11.1.2.3', '10.0.0.0/8')).toBe(false);
    expect(inCidr('192.168.1.10', '192.168.1.0/24')).toBe(true);
    expect(parseNetworksPillar({ control_plane: { cidr: ['10.0.0.0/24', '10.1.0.0/24'] }, workload_plane: { cidr: '10.2.0.0/24' }, service: '10.96.0.0/12' })).toEqual({
      controlPlane: ['10.0.0.0/24', '10.1.0.0/24'],
      workloadPlane: ['10.2.0.0/24'],
      service: '10.96.0.0/12',
    });
  });

  it('a route to the Service CIDR: default, a covering route, or none', () => {
    expect(routeCheck('10.96.0.0/12', JSON.stringify([{ dst: '10.0.0.0/8', dev: 'eth1' }])).status).toBe('pass');
    const none = routeCheck('10.96.0.0/12', JSON.stringify([{ dst: '192.168.1.0/24', dev: 'eth0' }, { dst: '10.96.0.0/16', dev: 'eth1' }]));
    expect(none).toMatchObject({ status: 'fail', evidence: 'no route covers 10.96.0.0/12; routes: 192.168.1.0/24, 10.96.0.0/16' });
  });

  it('xfs under /var/lib/containerd needs ftype=1', () => {
    const info = 'naming   =version 2              bsize=4096   ascii-ci=0, ftype=0\n';
    expect(containerdFsCheck('/var/lib', 'xfs', info)).toMatchObject({ status: 'fail', evidence: '/var/lib is on xfs with ftype=0' });
    expect(containerdFsCheck('/var/lib', 'xfs', info.replace('ftype=0', 'ftype=1')).status).toBe('pass');
  });

  it('EL8 hosts pass the OS check', () => {
    expect(osCheck('NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="8.9"\nPRETTY_NAME="Rocky Linux 8.9 (Green Obsidian)"\n')).toEqual({
      id: 'os',
      status: 'pass',
      evidence: 'Rocky Linux 8.9 (Green Obsidian)',
    });
    expect(osCheck('ID=ubuntu\nVERSION_ID="22.04"\nPRETTY_NAME="Ubuntu 22.04"\n').status).toBe('warn');
  });

  it('a MetalK8s port held by its own process passes (a redeploy)', () => {
    const ss = 'tcp   LISTEN 0      4096       0.0.0.0:10250      0.0.0.0:*    users:(("kubelet",pid=812,fd=20))\n';
    expect(portsCheck(['node'], { node: { '10250': 'kubelet' } }, ss)).toMatchObject({ status: 'pass', evidence: 'ports 10250 are free or held by MetalK8s: 10250 (kubelet)' });
    expect(portsCheck(['node'], { node: { '10250': 'kubelet' } }, ss.replace('kubelet', 'java')).status).toBe('fail');
  });

  it('clock skew warns above 1 s and fails above 60 s', () => {
    expect(clockCheck(10_000, 10_000, 10_000, 1000, 60_000).status).toBe('pass');
    expect(clockCheck(12_500, 10_000, 10_000, 1000, 60_000)).toMatchObject({ status: 'warn', evidence: expect.stringContaining('2500 ms ahead') });
    expect(clockCheck(0, 100_000, 100_000, 1000, 60_000)).toMatchObject({ status: 'fail', evidence: expect.stringContaining('behind') });
  });
});
