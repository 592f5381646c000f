/**
 * Support bundle and doctor on a broken environment of examples/zenko-like, on the MetalK8s
 * emulator with its own control plane (Nodes and Volumes are cluster-wide): an image missing
 * from the registry, a Volume failed, a PVC no Volume can satisfy, a cordoned node and a firing
 * alert. Doctor must name each problem, from the live cluster and from the bundle file, and
 * nothing else. Credentials planted in a ConfigMap, a Deployment's env and a custom resource
 * must not survive into the extracted bundle.
 *
 * Container logs are served by kwok from files (CRI log format) named by `Logs` objects.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, connect, type DoctorResult, doctor, alertmanagerSource, type AlertSource, preflight, readSupportBundle, supportBundle, writeSupportBundle } from '../../../src/cluster/index.js';
import { defineSolution } from '../../../src/index.js';
import { kubeGet, kubePatch, kubeRequest } from '../../../src/_kube.js';
import { loadSolutionFile, pack } from '../../../src/packaging/index.js';
import { type MetalK8sEmulator, setPodLogs, startMetalK8s } from '../../../src/testing/index.js';
import { CLI as cli, runCli, writeEmulatorEnv } from './_cli.js';

const pexec = promisify(execFile);

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('support bundle and doctor on a broken environment', () => {
  let mk8s: MetalK8sEmulator;
  let cluster: Cluster;
  let dir: string;
  const env = 'zenko-diag';
  const ns = env;
  const id = 'zenko-2.6.0';
  let alertSource: AlertSource;
  const jwt = `eyJhbGciOiJSUzI1NiIsImtpZCI6IjEyMyJ9.${Buffer.from(JSON.stringify({ sub: 'system:serviceaccount:zenko:x', iss: 'kubernetes' })).toString('base64url')}.${randomBytes(64).toString('base64url')}`;
  const pem = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const planted = {
    dbPassword: `Pw-${randomBytes(8).toString('hex')}`,
    s3Secret: `S3-${randomBytes(12).toString('hex')}`,
    envPassword: `Env-${randomBytes(8).toString('hex')}`,
    crToken: `Cr-${randomBytes(8).toString('hex')}`,
    urlPassword: `Url-${randomBytes(8).toString('hex')}`,
    jwtSignature: jwt.split('.')[2] ?? '',
    keyBody: pem.split('\n')[2] ?? '',
    logPassword: `Log-${randomBytes(8).toString('hex')}`,
    logToken: `ghp_${randomBytes(18).toString('hex')}`,
    logBearer: `${randomBytes(24).toString('base64url')}`,
    previousPassword: `Prev-${randomBytes(8).toString('hex')}`,
  };
  let live: DoctorResult;
  let zenkoIso: string;
  let forkIso: string;
  let bundleFile: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sdk-diagnostics-'));
    const { solution } = await loadSolutionFile('examples/zenko-like');
    const packed = await pack({ solution, baseDir: 'examples/zenko-like', outDir: join(dir, 'iso') });
    zenkoIso = packed.path;
    // Real Prometheus and Alertmanager behind the emulated control-plane ingress.
    // node-1 gets one real 256 MiB disk (a loop device), too small for xfs.
    mk8s = await startMetalK8s({ monitoring: true, disks: [{ node: 'node-1', sizeBytes: 256 * 2 ** 20 }] });
    cluster = await connect({
      kubeconfigYaml: mk8s.kubeconfigYaml,
      saltApi: { url: mk8s.saltApi.url, username: mk8s.saltApi.username, token: mk8s.saltApi.token, ca: mk8s.saltApi.ca },
      services: { ingressUrl: mk8s.monitoring?.ingressUrl },
    });
    alertSource = alertmanagerSource(cluster.alerts);
    await cluster.solutions.import(packed.path);
    await cluster.solutions.activate('zenko', { version: '2.6.0' });
    await cluster.environments.create(env);
    await cluster.environments.addSolution(env, { name: 'zenko', version: '2.6.0' });
    const kc = cluster.kubeConfig;
    const post = async (path: string, body: unknown) => {
      const res = await kubeRequest(kc, 'POST', path, body);
      if (res.status >= 300) throw new Error(`POST ${path}: ${res.status} ${res.text}`);
    };
    // Planted credentials.
    await post(`/api/v1/namespaces/${ns}/configmaps`, {
      metadata: { name: 'zenko-config' },
      data: {
        'config.yaml': `db:\n  host: mongodb.${ns}.svc\n  password: ${planted.dbPassword}\ns3:\n  secretKey: "${planted.s3Secret}"\nbackend: mongodb://zenko:${planted.dbPassword}@mongodb:27017/zenko\n`,
        'client.key': pem,
        'ci-notes.txt': `ran: kubectl --server https://k8s.example get pods --as-token ${jwt}\n`,
      },
    });
    // Unknown fields would be pruned by the CRD's structural schema: the credentials go in an
    // annotation and in a location endpoint URL, which the schema keeps.
    await post(`/apis/zenko.io/v1alpha2/namespaces/${ns}/zenkos`, {
      apiVersion: 'zenko.io/v1alpha2',
      kind: 'Zenko',
      metadata: { name: 'main', annotations: { 'zenko.io/bootstrap': `adminToken=${planted.crToken}` } },
      spec: {
        version: '2.6.0',
        cloudserver: { replicas: 1 },
        backbeat: { replicas: 1 },
        mongodb: { replicas: 1 },
        redis: { replicas: 1 },
        kafka: { replicas: 1 },
        locations: { 'aws-east': { type: 'aws_s3', endpoint: `https://zenko:${planted.urlPassword}@s3.example.com` } },
      },
    });
    // Broken: an image the registry does not serve (the Deployment itself runs: kwok pulls nothing).
    await post(`/apis/apps/v1/namespaces/${ns}/deployments`, {
      metadata: { name: 'zenko-web' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'zenko-web' } },
        template: {
          metadata: { labels: { app: 'zenko-web' } },
          spec: {
            containers: [{ name: 'web', image: `metalk8s-registry-from-config.invalid/${id}/zenko-web:2.6.0`, env: [{ name: 'DB_PASSWORD', value: planted.envPassword }] }],
          },
        },
      },
    });
    for (const d of ['zenko-operator', 'zenko-web']) {
      await until(`${d} Available`, async () => {
        const dep = await kubeGet<{ status?: { conditions?: { type: string; status: string }[] } }>(kc, `/apis/apps/v1/namespaces/${ns}/deployments/${d}`);
        return dep?.status?.conditions?.some((c) => c.type === 'Available' && c.status === 'True') ? true : undefined;
      });
    }
    // Container logs with credentials, served by kwok (the previous instance of the operator too).
    const pods = (await kubeGet<{ items: { metadata: { name: string }; spec: { containers: { name: string }[] } }[] }>(kc, `/api/v1/namespaces/${ns}/pods`))?.items ?? [];
    for (const p of pods) {
      const lines = [
        `starting ${p.metadata.name}, watching ${ns}`,
        `connecting to mongodb://zenko:${planted.logPassword}@mongodb:27017 failed, retrying`,
        `GET /apis/zenko.io/v1alpha2 Authorization: Bearer ${planted.logBearer}`,
        `github release check with token ${planted.logToken}`,
      ];
      const operator = p.metadata.name.startsWith('zenko-operator-');
      await setPodLogs(kc, {
        namespace: ns,
        pod: p.metadata.name,
        dir: join(dir, 'pod-logs'),
        containers: Object.fromEntries(p.spec.containers.map((c) => [c.name, lines])),
        ...(operator ? { previous: Object.fromEntries(p.spec.containers.map((c) => [c.name, [`panic: cannot log in with password=${planted.previousPassword}`]])) } : {}),
      });
      if (operator) {
        const statuses = p.spec.containers.map((c) => ({ name: c.name, restartCount: 1 }));
        await kubeRequest(kc, 'PATCH', `/api/v1/namespaces/${ns}/pods/${p.metadata.name}/status`, { status: { containerStatuses: statuses } }, 'application/strategic-merge-patch+json');
      }
    }
    // Broken: a Volume whose mkfs fails on the node, a PVC that nothing can satisfy, a cordoned node.
    const disk = mk8s.disks?.devicesOf('node-1')[0] ?? '';
    expect(disk).toMatch(/^\/dev\/loop\d+$/);
    await post('/apis/storage.metalk8s.scality.com/v1alpha1/volumes', {
      apiVersion: 'storage.metalk8s.scality.com/v1alpha1',
      kind: 'Volume',
      metadata: { name: 'zenko-data-0' },
      spec: { nodeName: 'node-1', storageClassName: 'zenko-mongodb', rawBlockDevice: { devicePath: disk } },
    });
    await until('Volume failed', async () => {
      const v = await kubeGet<{ status?: { conditions?: { type: string; status: string }[] } }>(kc, '/apis/storage.metalk8s.scality.com/v1alpha1/volumes/zenko-data-0');
      return v?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'False') ? true : undefined;
    });
    await post(`/api/v1/namespaces/${ns}/persistentvolumeclaims`, {
      metadata: { name: 'mongodb-data' },
      spec: { storageClassName: 'metalk8s', accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '20Gi' } }, selector: { matchLabels: { 'app.kubernetes.io/name': 'zenko-mongodb' } } },
    });
    await kubePatch(kc, '/api/v1/nodes/node-1', { spec: { unschedulable: true } });
    // Broken: an alert of the environment fires (posted to Alertmanager as a rule would); one of another namespace does not count.
    await cluster.alerts.post([
      { labels: { alertname: 'ZenkoCloudserverDown', namespace: ns, severity: 'critical' }, annotations: { summary: 'cloudserver is down' } },
      { labels: { alertname: 'OtherTeamDown', namespace: 'other', severity: 'critical' }, annotations: {} },
    ]);
    await until('the alerts in Alertmanager', async () => ((await cluster.alerts.list({ filter: ['severity=critical'] })).length >= 2 ? true : undefined));
    live = await doctor({ target: cluster, env, registryUrl: mk8s.registryUrl, alerts: alertSource });
  }, 900_000);

  afterAll(async () => {
    await mk8s?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const expected = [
    ['IMAGE_NOT_SERVED', `image metalk8s-registry-from-config.invalid/${id}/zenko-web:2.6.0`],
    ['VOLUME_FAILED', 'Volume zenko-data-0'],
    ['PVC_NO_MATCHING_VOLUME', `PersistentVolumeClaim ${ns}/mongodb-data`],
    ['NODE_CORDONED', 'Node node-1'],
    ['ALERT_FIRING', 'alert ZenkoCloudserverDown'],
  ].sort();
  const named = (r: DoctorResult) => r.findings.map((f) => [f.code, f.subject]).sort();

  it('names each problem of the live cluster, with evidence and a remedy, and nothing else', () => {
    expect(named(live)).toEqual(expected);
    expect(live.healthy).toBe(false);
    const volume = live.findings.find((f) => f.code === 'VOLUME_FAILED');
    expect(volume?.title).toContain('CreationError');
    expect(volume?.evidence.join('\n')).toContain('Filesystem must be larger than 300MB');
    expect(volume?.evidence.join('\n')).toMatch(/status\.job PrepareVolume\//);
    expect(volume?.remedy).toMatch(/delete the Volume and create it again/);
    const image = live.findings.find((f) => f.code === 'IMAGE_NOT_SERVED');
    expect(image?.evidence.join('\n')).toContain(`not in spec.images of ${id}`);
    expect(image?.evidence.join('\n')).toContain(`used by Deployment ${ns}/zenko-web`);
    expect(image?.evidence.join('\n')).toMatch(/HTTP 404/);
    expect(live.findings.find((f) => f.code === 'PVC_NO_MATCHING_VOLUME')?.evidence[0]).toContain('20Gi of StorageClass metalk8s');
    for (const f of live.findings) expect(f.remedy.length).toBeGreaterThan(10);
  });

  it('finds the same problems from the bundle file, whose extracted files hold none of the planted credentials', async () => {
    const output = join(dir, 'bundle.tar.gz');
    bundleFile = output;
    const events: string[] = [];
    const t0 = Date.now();
    const r = await supportBundle(cluster, { env, output, registryUrl: mk8s.registryUrl, alerts: alertSource, onProgress: (e) => events.push(e.type === 'collect' ? e.what : 'write') });
    process.stderr.write(`[diagnostics] bundle: ${r.bytes} bytes, ${r.index.files.length} files, ${r.index.redactions} values redacted, ${Date.now() - t0} ms\n`);
    expect(events).toContain('logs');
    expect(events).toContain('write');
    expect(r.index.counts.customResources).toBeGreaterThanOrEqual(1);
    expect(r.index.counts.saltJobs).toBeGreaterThanOrEqual(3);
    expect(r.snapshot.saltJobs.map((j) => j.mods)).toContain('metalk8s.orchestrate.solutions.prepare-environment');
    expect(r.snapshot.saltJobs.every((j) => j.success === true)).toBe(true);
    expect(r.index.cluster.metalk8sVersion).toBe('129.0.0');
    const fromFile = await doctor({ bundle: output });
    expect(fromFile.source).toBe('bundle');
    expect(named(fromFile)).toEqual(expected);
    // Same analyzers, same model: the bundle read back gives what its snapshot gave.
    expect(fromFile.findings).toEqual((await doctor({ snapshot: r.snapshot })).findings);

    const out = join(dir, 'extracted');
    await mkdir(out);
    await pexec('tar', ['xzf', output, '-C', out]);
    const { stdout: listing } = await pexec('find', [out, '-type', 'f']);
    expect(listing).toContain('support-bundle/index.json');
    expect(listing).toContain('support-bundle/objects/configMaps.json');
    expect(listing).toContain('support-bundle/redaction-report.json');
    expect(listing).toMatch(new RegExp(`support-bundle/logs/${ns}/zenko-operator-[a-z0-9-]+/[a-z0-9-]+\\.log`));
    const logs = (await pexec('find', [join(out, 'support-bundle/logs'), '-name', '*.log'])).stdout.trim().split('\n');
    const operatorLog = await readFile(logs.find((l) => l.includes('/zenko-operator-')) ?? '', 'utf8');
    expect(operatorLog).toContain('connecting to mongodb://zenko:[redacted]@mongodb:27017 failed');
    expect(operatorLog).toContain('Authorization: Bearer [redacted]');
    expect(r.index.problems.filter((p) => p.collector === 'logs')).toEqual([]);
    const previous = logs.find((l) => l.includes('/zenko-operator-') && l.endsWith('.previous.log'));
    expect(previous, logs.join('\n')).toBeDefined();
    expect(await readFile(previous ?? '', 'utf8')).toContain('panic: cannot log in with password=[redacted]');
    for (const [what, value] of Object.entries(planted)) {
      expect(value.length, what).toBeGreaterThan(8);
      const found = await pexec('grep', ['-rlF', value, out]).then((x) => x.stdout, () => '');
      expect(found, `${what} survived in ${found}`).toBe('');
    }
    const report = JSON.parse(await readFile(join(out, 'support-bundle/redaction-report.json'), 'utf8')) as { findings: { where: string; rule: string }[] };
    const where = new Set(report.findings.map((f) => `${f.where}:${f.rule}`));
    expect(where).toContain('objects/configMaps.json:private-key');
    expect(where).toContain('objects/configMaps.json:jwt');
    expect(where).toContain('objects/deployments.json:secret-env');
    expect([...where].some((w) => /^logs\/.*zenko-operator.*:url-password$/.test(w))).toBe(true);
    expect([...where].some((w) => /^logs\/.*:api-token$/.test(w))).toBe(true);
    expect([...where].some((w) => w.startsWith('objects/customResources.json:'))).toBe(true);
    // Not a Secret in sight.
    expect(await pexec('grep', ['-rl', '"kind": "Secret"', out]).then((x) => x.stdout, () => '')).toBe('');
    // The kept data is still useful.
    const cms = await readFile(join(out, 'support-bundle/objects/configMaps.json'), 'utf8');
    expect(cms).toContain(`mongodb.${ns}.svc`);

    // Same snapshot, same bytes; a damaged bundle is refused.
    const again = await writeSupportBundle(r.snapshot, join(dir, 'again.tar.gz'));
    expect(again.sha256).toBe(r.sha256);
    const snapshot = await readSupportBundle(output);
    expect(snapshot.scope.namespaces).toEqual([ns]);
  });

  it('preflight fails a version outside the range, a CRD another Solution owns, an unsatisfiable plan; import refuses the version too', async () => {
    const { solution } = await loadSolutionFile('examples/zenko-like');
    const def = solution.definition;
    // Another vendor's fork shipping the same CRDs, for MetalK8s 130 only.
    const fork = defineSolution({
      ...def,
      name: 'zenkofork',
      version: '1.0.0',
      requires: { metalk8s: '>=130.0.0 <131' },
      components: JSON.parse(JSON.stringify(def.components ?? [])),
      images: def.images.map((i) => (i.name === def.operator.image ? { ...i, tag: '1.0.0' } : i)),
    } as Parameters<typeof defineSolution>[0]);
    const packed = await pack({ solution: fork, baseDir: 'examples/zenko-like', outDir: join(dir, 'fork') });
    forkIso = packed.path;
    const r = await preflight(cluster, packed.path, {
      env,
      registryUrl: mk8s.registryUrl,
      solution: fork,
      planStorage: async () => ({ satisfiable: false, evidence: ['zenko-kafka logs: 200Gi per node of role node, node-1 has no free disk'] }),
    });
    const byName = Object.fromEntries(r.checks.map((c) => [c.name, c]));
    expect(r.ok).toBe(false);
    expect(byName['metalk8s-version']).toMatchObject({ status: 'fail', message: 'MetalK8s 129.0.0 is outside the supported range >=130.0.0 <131' });
    expect(byName['crd-conflicts']?.status).toBe('fail');
    expect(byName['crd-conflicts']?.evidence.join('\n')).toContain('zenkos.zenko.io already exists');
    expect(byName['storage-plan']).toMatchObject({ status: 'fail', evidence: ['zenko-kafka logs: 200Gi per node of role node, node-1 has no free disk'] });
    expect(byName['bootstrap-free-space']?.status).toBe('pass');
    expect(byName['bootstrap-free-space']?.evidence.join('\n')).toMatch(/available \d+ MiB/);
    expect(byName['node-roles']).toMatchObject({ status: 'pass', evidence: ['role node: node-1'] });
    expect(byName['image-conflicts']?.status).toBe('pass');
    // Its StorageClasses are zenko's.
    expect(byName['storageclass-conflicts']?.status).toBe('fail');
    expect(byName['storageclass-conflicts']?.evidence.join('\n')).toContain('StorageClass zenko-kafka exists, part-of zenko');

    // The same ISO under the active Solution's own name passes the CRD check (an upgrade).
    const own = await preflight(cluster, zenkoIso, { registryUrl: mk8s.registryUrl });
    expect(Object.fromEntries(own.checks.map((c) => [c.name, c.status]))).toMatchObject({ 'crd-conflicts': 'pass', 'image-conflicts': 'pass', 'metalk8s-version': 'warn', 'node-roles': 'warn' });

    // zenko 2.6.0 re-packed with a changed image: the registry serves the imported one under the same id.
    const repacked = defineSolution({
      ...def,
      components: JSON.parse(JSON.stringify(def.components ?? [])),
      images: def.images.map((i) =>
        i.name === 'cloudserver' && i.source.kind === 'build' ? { ...i, source: { ...i.source, config: { ...i.source.config, labels: { rebuilt: 'yes' } } } } : i,
      ),
    } as Parameters<typeof defineSolution>[0]);
    const other = await pack({ solution: repacked, baseDir: 'examples/zenko-like', outDir: join(dir, 'repacked') });
    const same = await preflight(cluster, other.path, { registryUrl: mk8s.registryUrl });
    const conflict = same.checks.find((c) => c.name === 'image-conflicts');
    expect(conflict?.status).toBe('fail');
    expect(conflict?.evidence).toHaveLength(1);
    expect(conflict?.evidence[0]).toMatch(/^zenko-2\.6\.0\/cloudserver:8\.8\.45 is already served with sha256:[0-9a-f]{64}; this ISO has sha256:[0-9a-f]{64}$/);

    const err = await cluster.solutions.import(packed.path).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('METALK8S_VERSION_UNSUPPORTED');
    expect((await cluster.solutions.list()).map((s) => s.name)).toEqual(['zenko']);
  });

  it('the built CLI: doctor --bundle and preflight exit 1 with their findings, support-bundle writes a bundle', async () => {
    if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first (npm test does)`);
    const env = await writeEmulatorEnv(dir, mk8s, { METALK8S_REGISTRY_URL: mk8s.registryUrl, METALK8S_INGRESS_URL: mk8s.monitoring?.ingressUrl ?? '' });
    const solution = (...args: string[]) => runCli(env, args);
    const d = await solution('doctor', '--bundle', bundleFile);
    expect(d.code, d.stderr).toBe(1);
    expect(d.stdout).toContain('CRITICAL Volume zenko-data-0 on node-1 failed: CreationError');
    expect(d.stdout).toContain('→ A failed Volume is never retried');
    expect(d.stderr).not.toMatch(/at .*\.js:\d+/);

    const p = await solution('preflight', forkIso, '--json');
    expect(p.code, p.stderr).toBe(1);
    const line = p.stdout.split('\n').find((l) => l.startsWith('{"type":"result"'));
    const checks = (JSON.parse(line ?? '{}') as { data?: { checks?: { name: string; status: string }[] } }).data?.checks ?? [];
    expect(checks.find((c) => c.name === 'metalk8s-version')?.status).toBe('fail');

    // With the solution file, the storage planner runs on the live inventory: zenko's needs do not fit one 256 MiB disk.
    const planned = await solution('preflight', zenkoIso, '--solution', 'examples/zenko-like', '--json');
    const planLine = planned.stdout.split('\n').find((l) => l.startsWith('{"type":"result"'));
    const planChecks = (JSON.parse(planLine ?? '{}') as { data?: { checks?: { name: string; status: string; evidence: string[] }[] } }).data?.checks ?? [];
    const storagePlan = planChecks.find((c) => c.name === 'storage-plan');
    expect(planned.code, planned.stderr).toBe(1);
    expect(storagePlan?.status).toBe('fail');
    expect(storagePlan?.evidence.some((e) => e.startsWith('mongodb.'))).toBe(true);
    expect(planChecks.find((c) => c.name === 'node-roles')?.status).toBe('pass');

    const out = join(dir, 'cli-bundle.tar.gz');
    const b = await solution('support-bundle', '--env', 'zenko-diag', '-o', out);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout).toMatch(/wrote .*cli-bundle\.tar\.gz \(\d+ KiB, \d+ files, \d+ values redacted/);
    const again = await solution('doctor', '--bundle', out, '--json');
    const findings = (JSON.parse(again.stdout.split('\n').find((l) => l.startsWith('{"type":"result"')) ?? '{}') as { data?: { findings?: { code: string }[] } }).data?.findings ?? [];
    // Alerts come from Alertmanager through METALK8S_INGRESS_URL.
    expect(findings.map((f) => f.code).sort()).toEqual(['ALERT_FIRING', 'IMAGE_NOT_SERVED', 'NODE_CORDONED', 'PVC_NO_MATCHING_VOLUME', 'VOLUME_FAILED']);

    // A vendor's own analyzer, kept in its support tooling (TypeScript, loaded as is).
    const analyzers = join(dir, 'analyzers.ts');
    await writeFile(
      analyzers,
      `type Obj = { kind?: string; metadata?: { name?: string; namespace?: string }; status?: { phase?: string } };
export const analyzers = [
  {
    name: 'zenko-phase',
    run: (s: { customResources: Obj[] }) =>
      s.customResources
        .filter((cr) => cr.kind === 'Zenko' && cr.status?.phase !== 'Running')
        .map((cr) => ({ code: 'ZENKO_NOT_RUNNING', severity: 'critical', subject: \`Zenko \${cr.metadata?.namespace}/\${cr.metadata?.name}\`, title: 'Zenko is not Running', evidence: [\`phase \${cr.status?.phase ?? 'none'}\`], remedy: 'Read the zenko-operator log in the bundle.' })),
  },
];
`,
    );
    const vendor = await solution('doctor', '--bundle', out, '--analyzers', analyzers);
    expect(vendor.code, vendor.stderr).toBe(1);
    expect(vendor.stdout).toContain('CRITICAL Zenko is not Running  [ZENKO_NOT_RUNNING, zenko-phase]');
    expect(vendor.stdout).toContain('phase none');
    const broken = await solution('doctor', '--bundle', out, '--analyzers', join(dir, 'kubeconfig'));
    expect(broken.stderr).toMatch(/^error: cannot load the analyzers of .*kubeconfig: .* \[ANALYZERS_LOAD_FAILED\]/);
    const empty = join(dir, 'empty.mjs');
    await writeFile(empty, 'export const x = 1;\n');
    const none = await solution('doctor', '--bundle', out, '--analyzers', empty);
    expect(none.stderr).toContain('exports no analyzers [ANALYZERS_INVALID]');
  });

  it('names an environment on a version that is not imported, and the orchestrate that failed on it', async () => {
    await kubePatch(cluster.kubeConfig, `/api/v1/namespaces/${ns}/configmaps/metalk8s-environment`, { data: { zenko: '9.9.9' } });
    const run = await cluster.salt.orchestrate('metalk8s.orchestrate.solutions.prepare-environment', {
      saltenv: cluster.saltenv,
      pillar: { orchestrate: { env_name: env } },
      throwOnFailure: false,
    });
    expect(run.success).toBe(false);
    const r = await doctor({ target: cluster, env, registryUrl: mk8s.registryUrl });
    const byCode = Object.fromEntries(r.findings.map((f) => [f.code, f]));
    expect(byCode.ENVIRONMENT_VERSION_NOT_IMPORTED?.title).toBe(`${env} runs zenko 9.9.9, but the active version is 2.6.0`);
    expect(byCode.SALT_JOB_FAILED?.title).toBe(`metalk8s.orchestrate.solutions.prepare-environment (env_name=${env}) failed`);
    expect(byCode.SALT_JOB_FAILED?.evidence.join('\n')).toContain('Version 9.9.9 is not available for Solution zenko');
    await kubePatch(cluster.kubeConfig, `/api/v1/namespaces/${ns}/configmaps/metalk8s-environment`, { data: { zenko: '2.6.0' } });
  });

  it('names a node left cordoned by a failed deploy_node run as MetalK8s\' UI starts it, with the failed step', async () => {
    const node = 'node-9';
    await cluster.nodes.declare(node, { roles: ['workload'], ssh: { host: '127.0.0.1' } });
    mk8s.nodes.injectFailure({ node, step: 'Run the highstate', comment: 'State pkg.installed kubelet failed: No package kubelet available' });
    const run = await cluster.salt.orchestrate('metalk8s.orchestrate.deploy_node', { saltenv: cluster.saltenv, pillar: { orchestrate: { node_name: node } }, throwOnFailure: false });
    expect(run.success).toBe(false);
    const r = await doctor({ target: cluster, env, registryUrl: mk8s.registryUrl });
    const mine = r.findings.filter((f) => f.subject === `Node ${node}`);
    const cordoned = mine.find((f) => f.code === 'NODE_CORDONED');
    expect(cordoned?.title).toBe(`node ${node} is cordoned after a failed deploy`);
    expect(cordoned?.evidence.join('\n')).toContain('No package kubelet available');
    expect(cordoned?.remedy).toMatch(/does not uncordon it on failure/);
    expect(r.findings.some((f) => f.code === 'SALT_JOB_FAILED' && f.title === `metalk8s.orchestrate.deploy_node (node_name=${node}) failed`)).toBe(true);
  });
});
