import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleFiles, type DiagnosticsSnapshot, defineAnalyzer, doctor, readSupportBundle, writeSupportBundle } from '../../../src/cluster/index.js';
import { PackagingError } from '../../../src/errors.js';

/** A snapshot as collectSnapshot makes it, for a cluster where a node deploy failed. */
function snapshot(over: Partial<DiagnosticsSnapshot> = {}): DiagnosticsSnapshot {
  return {
    schemaVersion: 1,
    collectedAt: '2026-12-01T08:00:00Z',
    sdkVersion: '0.1.0',
    cluster: { metalk8sVersion: '129.0.0', kubernetesVersion: 'v1.29.8' },
    scope: { env: 'prod', namespaces: ['prod'], sinceSeconds: 86_400 },
    nodes: [
      { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-2' }, spec: { unschedulable: true }, status: { conditions: [{ type: 'Ready', status: 'Unknown', reason: 'NodeStatusNeverUpdated', message: 'Kubelet never posted node status.' }] } },
      { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1' }, status: { conditions: [{ type: 'Ready', status: 'True' }] } },
    ],
    solutions: {
      zenko: [
        { name: 'zenko', id: 'zenko-2.6.0', mountpoint: '/srv/scality/zenko-2.6.0', archive: '/a.iso', version: '2.6.0', manifest: { spec: { images: ['zenko-operator:2.6.0'] } }, active: false },
        { name: 'zenko', id: 'zenko-2.7.0', mountpoint: '/srv/scality/zenko-2.7.0', archive: '/b.iso', version: '2.7.0', manifest: { spec: { images: ['zenko-operator:2.7.0'] } }, active: true },
      ],
    },
    environments: [{ name: 'prod', namespace: 'prod', solutions: { zenko: '2.6.0' } }],
    deployments: [
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'zenko-operator', namespace: 'prod' },
        spec: { selector: { matchLabels: { app: 'zenko-operator' } } },
        status: {
          conditions: [
            { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.' },
            { type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: 'pods "zenko-operator-x" is forbidden: exceeded quota: pods' },
          ],
        },
      },
    ],
    replicaSets: [],
    pods: [],
    events: [
      { apiVersion: 'v1', kind: 'Event', metadata: { name: 'e1', namespace: 'prod' }, type: 'Warning', reason: 'FailedCreate', message: 'Error creating: pods is forbidden: exceeded quota', involvedObject: { kind: 'Deployment', name: 'zenko-operator', namespace: 'prod' } },
      { apiVersion: 'v1', kind: 'Event', metadata: { name: 'e2', namespace: 'prod' }, type: 'Normal', reason: 'ScalingReplicaSet', message: 'Scaled up', involvedObject: { kind: 'Deployment', name: 'zenko-operator', namespace: 'prod' } },
    ],
    configMaps: [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'prod' }, data: { 'app.ini': 'password = hunter2hunter2\n' } }],
    customResources: [],
    volumes: [],
    persistentVolumes: [],
    persistentVolumeClaims: [],
    storageClasses: [],
    prometheusRules: [],
    logs: [
      { namespace: 'prod', pod: 'a', container: 'op', previous: false, text: 'x'.repeat(100), truncated: false },
      { namespace: 'prod', pod: 'b', container: 'op', previous: true, text: `${'y'.repeat(5000)}\n`, truncated: true },
    ],
    saltJobs: [
      { jid: '20261201070000000001', function: 'runner.state.orchestrate', mods: 'metalk8s.orchestrate.deploy_node', pillar: { node_name: 'node-2' }, startTime: '2026, Dec 01 07:00:00.000001', user: 'admin', success: false, failure: 'Run highstate: Failure! <- Install containerd: package not found' },
      { jid: '20261201060000000001', function: 'runner.state.orchestrate', mods: 'metalk8s.orchestrate.solutions.prepare-environment', pillar: { env_name: 'prod' }, startTime: undefined, user: undefined, success: false, failure: 'old failure' },
      { jid: '20261201065000000001', function: 'runner.state.orchestrate', mods: 'metalk8s.orchestrate.solutions.prepare-environment', pillar: { env_name: 'prod' }, startTime: undefined, user: undefined, success: true, failure: undefined },
    ],
    images: [],
    alerts: [],
    problems: [],
    ...over,
  };
}

describe('doctor analyzers', () => {
  it('names an operator blocked by a quota, a node left NotReady and cordoned by a failed deploy, an environment behind the active version, and the failed job', async () => {
    const r = await doctor({ snapshot: snapshot() });
    expect(r.findings.map((f) => [f.severity, f.code, f.subject])).toEqual([
      ['critical', 'OPERATOR_NOT_AVAILABLE', 'Deployment prod/zenko-operator'],
      ['critical', 'NODE_NOT_READY', 'Node node-2'],
      ['warning', 'NODE_CORDONED', 'Node node-2'],
      ['warning', 'ENVIRONMENT_VERSION_NOT_ACTIVE', 'environment prod (prod)'],
      // The prepare-environment failure was fixed by a later run: history, not a finding.
      ['warning', 'SALT_JOB_FAILED', 'Salt job 20261201070000000001'],
    ]);
    const op = r.findings[0];
    expect(op?.title).toBe('zenko-operator is not Available: FailedCreate');
    expect(op?.evidence).toContain('ReplicaFailure=True (FailedCreate): pods "zenko-operator-x" is forbidden: exceeded quota: pods');
    expect(op?.evidence.some((e) => e.includes('Scaled up'))).toBe(false);
    expect(r.findings[2]?.title).toBe('node node-2 is cordoned after a failed deploy');
    expect(r.findings[2]?.evidence).toContain('deploy_node job 20261201070000000001 failed: Run highstate: Failure! <- Install containerd: package not found');
    expect(r.findings[3]?.remedy).toBe('Upgrade the environment: solution env upgrade prod zenko 2.7.0.');
    expect(r.healthy).toBe(false);
  });

  it('reads a failed deploy recorded on the Node by cluster.nodes.deploy(), without Salt jobs', async () => {
    const node = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: 'node-3',
        annotations: {
          'solution-sdk.metalk8s.scality.com/deploy-jid': '20261201075500000001',
          'solution-sdk.metalk8s.scality.com/deploy-result': `failed:${JSON.stringify({ step: 'Run highstate', comment: 'Install containerd: package not found' })}`,
        },
      },
      spec: { unschedulable: true },
      status: { conditions: [{ type: 'Ready', status: 'True' }] },
    };
    const r = await doctor({ snapshot: snapshot({ nodes: [node], deployments: [], saltJobs: [], environments: [] }) });
    expect(r.findings.map((f) => [f.code, f.title])).toEqual([['NODE_CORDONED', 'node node-3 is cordoned after a failed deploy']]);
    expect(r.findings[0]?.evidence).toContain('deploy_node job 20261201075500000001 failed (recorded on the Node): Run highstate: Install containerd: package not found');
  });

  it('runs vendor analyzers after the built-in ones; one that throws becomes a warning', async () => {
    const zenkoPhase = defineAnalyzer({
      name: 'zenko-phase',
      run: (s) =>
        s.customResources
          .filter((cr) => cr.kind === 'Zenko' && (cr.status as { phase?: string } | undefined)?.phase !== 'Running')
          .map((cr) => ({ code: 'ZENKO_NOT_RUNNING', severity: 'critical' as const, subject: `Zenko ${cr.metadata?.name}`, title: 'not running', evidence: [], remedy: 'see the operator log' })),
    });
    const broken = defineAnalyzer({
      name: 'broken',
      run: () => {
        throw new Error('boom');
      },
    });
    const s = snapshot({ nodes: [], deployments: [], saltJobs: [], environments: [], customResources: [{ apiVersion: 'zenko.io/v1', kind: 'Zenko', metadata: { name: 'main', namespace: 'prod' }, status: { phase: 'Degraded' } }] });
    const r = await doctor({ snapshot: s, analyzers: [zenkoPhase, broken] });
    expect(r.findings.map((f) => [f.analyzer, f.code])).toEqual([
      ['zenko-phase', 'ZENKO_NOT_RUNNING'],
      ['broken', 'ANALYZER_FAILED'],
    ]);
    expect(r.analyzers.slice(-2)).toEqual(['zenko-phase', 'broken']);
    expect((await doctor({ snapshot: snapshot({ nodes: [], deployments: [], saltJobs: [], environments: [] }) })).healthy).toBe(true);
  });
});

describe('support bundle files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sdk-bundle-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is the same bytes for the same snapshot, and reads back to the scrubbed snapshot', async () => {
    const a = await writeSupportBundle(snapshot(), join(dir, 'a.tar.gz'));
    const b = await writeSupportBundle(snapshot(), join(dir, 'b.tar.gz'));
    expect(a.sha256).toBe(b.sha256);
    const back = await readSupportBundle(a.path);
    expect(back.nodes).toEqual(snapshot().nodes);
    expect(back.logs.map((l) => [l.pod, l.previous])).toEqual([
      ['a', false],
      ['b', true],
    ]);
    expect(JSON.stringify(back.configMaps)).not.toContain('hunter2hunter2');
    expect((await doctor({ bundle: a.path })).findings).toEqual((await doctor({ snapshot: snapshot() })).findings);
  });

  it('stays under the size bound by dropping logs, and says which', () => {
    const objects = [...bundleFiles(snapshot()).files].filter(([p]) => p.startsWith('objects/')).reduce((n, [, b]) => n + b.length, 0);
    const { files, index } = bundleFiles(snapshot(), { maxBytes: objects + 1000 });
    expect(index.omitted).toEqual(['logs/prod/b/op.previous.log']);
    expect(index.logs.map((l) => l.path)).toEqual(['logs/prod/a/op.log']);
    expect([...files.keys()]).not.toContain('logs/prod/b/op.previous.log');
  });

  it('refuses a file that is no bundle, and a bundle whose file was edited', async () => {
    const junk = join(dir, 'junk.tar.gz');
    await writeFile(junk, 'not gzip');
    await expect(readSupportBundle(junk)).rejects.toMatchObject({ code: 'BUNDLE_INVALID' });
    // Flip one byte of index.json's listed content: rebuild the archive with a changed file.
    const { files } = bundleFiles(snapshot());
    const index = JSON.parse((files.get('index.json') ?? Buffer.alloc(0)).toString('utf8')) as { files: { path: string; sha256: string }[] };
    const entry = index.files.find((f) => f.path === 'objects/nodes.json');
    if (entry) entry.sha256 = '0'.repeat(64);
    const tar = (await import('tar-stream')).default.pack();
    const { createGzip } = await import('node:zlib');
    const chunks: Buffer[] = [];
    const gz = tar.pipe(createGzip());
    gz.on('data', (c: Buffer) => chunks.push(c));
    const done = new Promise((r) => gz.on('end', r));
    for (const [path, body] of files) tar.entry({ name: `support-bundle/${path}` }, path === 'index.json' ? JSON.stringify(index) : body);
    tar.finalize();
    await done;
    const edited = join(dir, 'edited.tar.gz');
    await writeFile(edited, Buffer.concat(chunks));
    const err = await readSupportBundle(edited).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PackagingError);
    expect((err as Error).message).toContain('objects/nodes.json does not match its sha256');
    expect(await readFile(junk, 'utf8')).toBe('not gzip');
  });
});
