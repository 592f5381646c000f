/**
 * Platform services against real parts: the MetalK8s emulator with its monitoring stack (real
 * Prometheus and Alertmanager behind real nginx playing the control-plane ingress), the
 * zenko-like example imported and activated, its PrometheusRule turned into a rule file. A dead
 * scrape target makes `ZenkoS3Down` fire; the SDK sees it in Prometheus and Alertmanager,
 * silences it, expires the silence, and runs a maintenance window that is aborted.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeRequest } from '../../../src/_kube.js';
import { type Cluster, connect, connectPlatform } from '../../../src/cluster/index.js';
import { AbortError, ClusterError, PromqlError } from '../../../src/errors.js';
import { loadSolutionFile, pack } from '../../../src/packaging/index.js';
import { appendPodLog, type MetalK8sEmulator, setPodLogs, startMetalK8s } from '../../../src/testing/index.js';
import { CLI, runCli, writeEmulatorEnv } from './_cli.js';

const ENV = 'zenko-mon';
const pexec = promisify(execFile);

async function eventually<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A port nothing listens on: the scrape target that is down. */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const a = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return typeof a === 'object' && a ? a.port : 1;
}

describe('platform services (metrics, alerts) against real Prometheus and Alertmanager', () => {
  let mk8s: MetalK8sEmulator;
  let cluster: Cluster;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sdk-monitoring-'));
    const { solution } = await loadSolutionFile('examples/zenko-like');
    const packed = await pack({ solution, baseDir: 'examples/zenko-like', outDir: dir });
    // ZenkoS3Down has `for: 5m`: the emulator's rule files shorten it so the test waits seconds.
    mk8s = await startMetalK8s({ storageOperator: false, monitoring: { maxAlertFor: '2s' } });
    const mon = mk8s.monitoring;
    if (!mon) throw new Error('the emulator did not start its monitoring stack');
    process.stderr.write(`[monitoring] Alertmanager ${mon.alertmanager.version} (${mon.alertmanager.binary})\n`);
    cluster = await connect({
      kubeconfigYaml: mk8s.kubeconfigYaml,
      saltApi: { url: mk8s.saltApi.url, username: mk8s.saltApi.username, token: mk8s.saltApi.token, ca: mk8s.saltApi.ca },
      services: { ingressUrl: mon.ingressUrl },
    });
    await cluster.solutions.import(packed.path);
    await cluster.solutions.activate('zenko', { version: '2.6.0' });
    await cluster.environments.create(ENV);
    await cluster.environments.addSolution(ENV, { name: 'zenko', version: '2.6.0' });
  }, 600_000);

  afterAll(async () => {
    await mk8s?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('from the kubeconfig alone, connect() finds the ingress in ClusterConfig main: SaltAPI and services through it', async () => {
    const found = await connect({ kubeconfigYaml: mk8s.kubeconfigYaml, saltApi: { username: mk8s.saltApi.username, token: mk8s.saltApi.token } });
    expect(await found.metrics.endpoint()).toEqual({ via: 'ingress', url: `${mk8s.monitoring?.ingressUrl}/api/prometheus` });
    expect(await found.alerts.endpoint()).toEqual({ via: 'ingress', url: `${mk8s.monitoring?.ingressUrl}/api/alertmanager` });
    // The SaltAPI login went through nginx's /api/salt; a listing goes through it too.
    expect((await found.solutions.list()).map((s) => s.name)).toContain('zenko');
    expect((await found.alerts.status()).cluster.status).toBe('disabled');
    // The services alone need no SaltAPI: the emulator's admin kubeconfig is a client certificate.
    const platform = await connectPlatform({ kubeconfigYaml: mk8s.kubeconfigYaml });
    expect(await platform.metrics.query('vector(1)')).toMatchObject({ resultType: 'vector', result: [{ value: 1 }] });
  });

  it('goes through the control-plane ingress (nginx, TLS checked against the cluster CA)', async () => {
    const ep = await cluster.metrics.endpoint();
    expect(ep.via).toBe('ingress');
    expect(ep.url).toBe(`${mk8s.monitoring?.ingressUrl}/api/prometheus`);
    expect(ep.url.startsWith('https://')).toBe(true);
    const r = await cluster.metrics.query('vector(42)');
    expect(r).toMatchObject({ resultType: 'vector', result: [{ value: 42 }] });
  });

  it('after activate, the zenko rules are loaded and evaluated by Prometheus', async () => {
    const groups = await eventually('the zenko rule groups in Prometheus', async () => {
      const g = await cluster.metrics.rules({ type: 'alert' });
      return g.some((x) => x.name === 'zenko-cloudserver') ? g : undefined;
    });
    const names = groups.map((g) => g.name);
    expect(names).toEqual(expect.arrayContaining(['zenko-cloudserver', 'zenko-backbeat', 'zenko-mongodb', 'zenko-redis', 'zenko-kafka']));
    const s3 = groups.find((g) => g.name === 'zenko-cloudserver');
    expect(s3?.file).toMatch(/metalk8s-monitoring-zenko-alerts-[0-9a-f-]+\.yaml$/);
    const rule = s3?.rules.find((r) => r.name === 'ZenkoS3Down');
    expect(rule).toMatchObject({ type: 'alerting', query: 'sum(up{job="zenko-cloudserver"}) == 0', labels: { severity: 'critical' } });
    await eventually('the rule to be evaluated', async () => {
      const r = (await cluster.metrics.rules()).flatMap((g) => g.rules).find((x) => x.name === 'ZenkoS3Down');
      return r?.health === 'ok';
    });
  });

  it('a PromQL syntax error is refused before sending; a semantic one comes back with Prometheus\' message', async () => {
    // Prometheus counts the queries it refused (HTTP 400) in its own metrics, scraped every second.
    const refused = async () => {
      const r = await cluster.metrics.query('sum(prometheus_http_requests_total{handler="/api/v1/query",code="400"}) or vector(0)');
      return r.resultType === 'vector' ? (r.result[0]?.value ?? 0) : -1;
    };
    const before = await refused();
    const e1 = await cluster.metrics.query('sum(up{job="x"}').catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(PromqlError);
    expect(e1).toMatchObject({ code: 'PROMQL_SYNTAX', errorType: 'syntax', line: 1 });
    const e2 = await cluster.metrics.query('rate(up)').catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(PromqlError);
    expect(e2).toMatchObject({ code: 'PROMQL_REJECTED', errorType: 'bad_data', status: 400 });
    expect((e2 as Error).message).toMatch(/expected type range vector in call to function "rate", got instant vector/);
    // Only the semantic error reached Prometheus: its refused-query count rises by one, and stays.
    await eventually('the refused query to be counted', async () => (await refused()) === before + 1);
    await new Promise((r) => setTimeout(r, 2500));
    expect(await refused()).toBe(before + 1);
  });

  it('a dead scrape target makes ZenkoS3Down fire; Alertmanager has it; a silence hides it; expire brings it back', async () => {
    const port = await closedPort();
    await mk8s.monitoring?.setScrapeTargets('zenko-cloudserver', [`127.0.0.1:${port}`], { labels: { namespace: ENV } });
    const target = await eventually('the target to be scraped as down', async () =>
      (await cluster.metrics.targets()).find((t) => t.labels.job === 'zenko-cloudserver' && t.health === 'down'),
    );
    expect(target.lastError).toMatch(/connection refused/);
    const firing = await eventually('ZenkoS3Down firing in Prometheus', async () =>
      (await cluster.metrics.alerts()).find((a) => a.labels.alertname === 'ZenkoS3Down' && a.state === 'firing'),
    );
    expect(firing.labels.severity).toBe('critical');
    const inAm = await eventually('ZenkoS3Down in Alertmanager', async () => (await cluster.alerts.list({ filter: ['alertname=ZenkoS3Down'] }))[0]);
    expect(inAm.status.state).toBe('active');
    expect(inAm.annotations.summary).toBe('No S3 front end pod is up');

    const id = await cluster.alerts.silence({ matchers: ['alertname=ZenkoS3Down'], duration: '1h', comment: 'S3 maintenance', createdBy: 'test' });
    const silenced = (await cluster.alerts.list({ filter: ['alertname=ZenkoS3Down'] }))[0];
    expect(silenced?.status).toMatchObject({ state: 'suppressed', silencedBy: [id] });
    expect(await cluster.alerts.list({ filter: ['alertname=ZenkoS3Down'], silenced: false })).toEqual([]);
    const listed = await cluster.alerts.silences({ filter: ['alertname=ZenkoS3Down'], state: ['active'] });
    expect(listed.map((s) => s.id)).toContain(id);

    await cluster.alerts.expire(id);
    await cluster.alerts.expire(id); // already expired: nothing to do
    expect((await cluster.alerts.getSilence(id)).status.state).toBe('expired');
    const back = (await cluster.alerts.list({ filter: ['alertname=ZenkoS3Down'], silenced: false }))[0];
    expect(back?.status.state).toBe('active');
    const groups = await cluster.alerts.groups({ filter: ['alertname=ZenkoS3Down'] });
    expect(groups[0]?.alerts.map((a) => a.labels.alertname)).toEqual(['ZenkoS3Down']);
  });

  it('series, labels, label values and range queries of the scraped target', async () => {
    const series = await cluster.metrics.series(['up{job="zenko-cloudserver"}'], { start: new Date(Date.now() - 600_000) });
    expect(series).toEqual([expect.objectContaining({ __name__: 'up', job: 'zenko-cloudserver', namespace: ENV })]);
    expect(await cluster.metrics.labels()).toEqual(expect.arrayContaining(['__name__', 'instance', 'job', 'namespace']));
    expect(await cluster.metrics.labels({ name: 'job' })).toEqual(expect.arrayContaining(['prometheus', 'zenko-cloudserver']));
    const end = new Date();
    const matrix = await cluster.metrics.queryRange(await cluster.metrics.environmentSelector(ENV, { metric: 'up' }), { start: new Date(end.getTime() - 5000), end, step: 1 });
    expect(matrix[0]?.metric).toMatchObject({ job: 'zenko-cloudserver', namespace: ENV });
    expect(matrix[0]?.values.length).toBeGreaterThanOrEqual(3);
    expect(matrix[0]?.values.every((v) => v.value === 0)).toBe(true);
    await expect(cluster.metrics.series(['up{job=']).catch((e: unknown) => e)).resolves.toMatchObject({ code: 'PROMQL_SYNTAX' });
  });

  it('post() sends an alert as MetalK8s\' UI does for its test alert; Alertmanager lists it', async () => {
    const testedOn = new Date().toISOString();
    await cluster.alerts.post([{ labels: { alertname: 'dummy_alert', severity: 'critical', testedOn }, annotations: { description: 'test alert' } }]);
    const got = await eventually('the test alert', async () => (await cluster.alerts.list({ filter: [`testedOn=${testedOn}`] }))[0]);
    expect(got).toMatchObject({ labels: { alertname: 'dummy_alert' }, annotations: { description: 'test alert' }, status: { state: 'active' } });
    expect(await cluster.alerts.receivers()).toEqual(['null']);
  });

  it('health reports the firing alert with its rule group and environment, the down target, the loaded rules', async () => {
    const report = await cluster.health('zenko', ENV);
    expect(report).toMatchObject({ solution: 'zenko', environment: ENV, version: '2.6.0', namespaces: [ENV], status: 'unhealthy' });
    const check = (name: string) => report.checks.find((c) => c.name === name);
    expect(check('operator')?.status).toBe('ok');
    expect(check('rules')).toMatchObject({ status: 'ok', summary: '8/8 rules loaded and evaluating' });
    expect(check('alerts')?.status).toBe('error');
    expect(check('targets')).toMatchObject({ status: 'error', summary: '0/1 targets up' });
    expect(report.alerts).toEqual([
      expect.objectContaining({ alertname: 'ZenkoS3Down', severity: 'critical', state: 'active', group: 'zenko-cloudserver', summary: 'No S3 front end pod is up' }),
    ]);
    expect(check('alerts')?.details[0]).toMatch(/^ZenkoS3Down \(critical\) active, rule group zenko-cloudserver/);
    expect(check('custom-resources')).toMatchObject({ status: 'ok', summary: 'no custom resource' });
    expect(check('storage')).toMatchObject({ status: 'ok', summary: 'no PersistentVolumeClaim' });
  });

  it('health reads the Solution\'s custom resources\' conditions and its PVCs', async () => {
    const base = `/apis/zenko.io/v1alpha2/namespaces/${ENV}/zenkos`;
    const created = await kubeRequest(cluster.kubeConfig, 'POST', base, {
      apiVersion: 'zenko.io/v1alpha2',
      kind: 'Zenko',
      metadata: { name: 'main' },
      spec: { version: '2.6.0', cloudserver: {}, backbeat: {}, mongodb: {}, redis: {}, kafka: {} },
    });
    expect(created.status).toBe(201);
    const status = await kubeRequest(
      cluster.kubeConfig,
      'PATCH',
      `${base}/main/status`,
      { status: { phase: 'Degraded', conditions: [{ type: 'Ready', status: 'False', reason: 'MongoDBUnavailable', message: 'replica set has no primary', lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }] } },
      'application/merge-patch+json',
    );
    expect(status.status).toBe(200);
    const pvc = await kubeRequest(cluster.kubeConfig, 'POST', `/api/v1/namespaces/${ENV}/persistentvolumeclaims`, {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'data-mongodb-0' },
      spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'zenko-mongodb', resources: { requests: { storage: '1Gi' } } },
    });
    expect(pvc.status).toBe(201);
    try {
      const report = await cluster.health('zenko', ENV);
      const check = (name: string) => report.checks.find((c) => c.name === name);
      expect(check('custom-resources')).toMatchObject({
        status: 'error',
        summary: '1 custom resource(s)',
        details: [`Zenko ${ENV}/main: phase Degraded; Ready=False (MongoDBUnavailable: replica set has no primary)`],
      });
      expect(check('storage')).toMatchObject({ status: 'warning', details: [`PVC ${ENV}/data-mongodb-0: Pending`] });
    } finally {
      await kubeRequest(cluster.kubeConfig, 'DELETE', `${base}/main`);
      await kubeRequest(cluster.kubeConfig, 'DELETE', `/api/v1/namespaces/${ENV}/persistentvolumeclaims/data-mongodb-0`);
    }
  });

  it('maintenance() silences the environment while its job runs and expires the silences after', async () => {
    let during: string | undefined;
    let health: Awaited<ReturnType<Cluster['health']>> | undefined;
    const ids = await cluster.alerts.maintenance(ENV, '10m', async ({ silenceIds }) => {
      during = (await cluster.alerts.list({ filter: ['alertname=ZenkoS3Down'] }))[0]?.status.state;
      health = await cluster.health('zenko', ENV);
      return silenceIds;
    });
    expect(during).toBe('suppressed');
    // Silenced: the alert is listed but does not make the report unhealthy; the down target still does.
    expect(health?.checks.find((c) => c.name === 'alerts')).toMatchObject({ status: 'ok', summary: '0 firing, 1 silenced or inhibited' });
    expect(health?.alerts[0]?.silencedBy).toHaveLength(1);
    expect(ids).toHaveLength(2);
    for (const id of ids) expect((await cluster.alerts.getSilence(id)).status.state).toBe('expired');
    expect((await cluster.alerts.list({ filter: ['alertname=ZenkoS3Down'] }))[0]?.status.state).toBe('active');
  });

  it('maintenance() aborted or failing expires its silences', async () => {
    const controller = new AbortController();
    let ids: readonly string[] = [];
    const aborted = await cluster.alerts
      .maintenance(
        ENV,
        '10m',
        async (w) => {
          ids = w.silenceIds;
          controller.abort();
          await new Promise(() => {});
        },
        { signal: controller.signal },
      )
      .catch((e: unknown) => e);
    expect(aborted).toBeInstanceOf(AbortError);
    expect(ids.length).toBeGreaterThan(0);
    for (const id of ids) expect((await cluster.alerts.getSilence(id)).status.state).toBe('expired');

    const failed = await cluster.alerts
      .maintenance(ENV, '10m', async (w) => {
        ids = w.silenceIds;
        throw new Error('upgrade failed');
      })
      .catch((e: unknown) => e);
    expect((failed as Error).message).toBe('upgrade failed');
    for (const id of ids) expect((await cluster.alerts.getSilence(id)).status.state).toBe('expired');
  });

  it('dashboards: the labelled ConfigMaps, their folder and the Solution version', async () => {
    const all = await cluster.dashboards.list({ solution: 'zenko' });
    expect(all.map((d) => d.title)).toEqual(['Zenko / Kafka', 'Zenko / MongoDB', 'Zenko / Redis', 'Zenko / Replication engine', 'Zenko / S3 front end']);
    expect(all[0]).toMatchObject({ uid: 'zenko-kafka', folder: 'Zenko', solution: { name: 'zenko', version: '2.6.0' }, problem: undefined, tags: ['zenko', 'kafka'] });
    expect(all[0]?.source).toEqual({ kind: 'ConfigMap', namespace: 'metalk8s-monitoring', name: 'zenko-dashboard-zenko-kafka', key: 'zenko-kafka.json' });
  });

  it('container logs of the operator through the API server (kwok serves the files): tail, since, previous, follow', async () => {
    const pods = await cluster.logs.pods(ENV, 'zenko', { component: 'operator' });
    expect(pods).toHaveLength(1);
    const pod = pods[0]?.metadata.name ?? '';
    const container = pods[0]?.spec?.containers?.[0]?.name ?? '';
    expect(container).toBe('zenko-operator');
    const logDir = join(dir, 'pod-logs');
    await setPodLogs(cluster.kubeConfig, {
      namespace: ENV,
      pod,
      dir: logDir,
      start: new Date(Date.now() - 7_200_000),
      containers: { [container]: ['starting zenko-operator 2.6.0', 'watching namespace zenko-mon', 'reconciled Zenko zenko-mon/main'] },
      previous: { [container]: ['panic: lost leader election'] },
    });
    const read = async (o: Parameters<Cluster['logs']['containers']>[2]) => {
      const out: string[] = [];
      for await (const l of cluster.logs.containers(ENV, 'zenko', { component: 'operator', ...o })) out.push(`${l.pod}/${l.container}: ${l.line}`);
      return out;
    };
    // kwok picks up its Logs object through a watch: wait for it.
    const all = await eventually('kwok to serve the logs', async () => {
      const lines = await read({});
      return lines.length === 3 ? lines : undefined;
    });
    expect(all[0]).toBe(`${pod}/zenko-operator: starting zenko-operator 2.6.0`);
    expect(await read({ tail: 1 })).toEqual([`${pod}/zenko-operator: reconciled Zenko zenko-mon/main`]);
    expect(await read({ since: '1h' })).toEqual([]);
    expect(await read({ since: '3h' })).toHaveLength(3);
    expect(await read({ previous: true })).toEqual([`${pod}/zenko-operator: panic: lost leader election`]);
    const stamped: string[] = [];
    for await (const l of cluster.logs.containers(ENV, 'zenko', { component: 'operator', tail: 1, timestamps: true })) stamped.push(l.time ?? '');
    expect(stamped[0]).toMatch(/^\d{4}-\d\d-\d\dT/);

    const controller = new AbortController();
    const followed: string[] = [];
    const reading = (async () => {
      for await (const l of cluster.logs.containers(ENV, 'zenko', { component: 'operator', follow: true, tail: 0, signal: controller.signal })) {
        followed.push(l.line);
        if (followed.length === 2) break;
      }
    })();
    await new Promise((r) => setTimeout(r, 1000));
    await appendPodLog(logDir, ENV, pod, container, ['scaled cloudserver to 3', 'reconciled Zenko zenko-mon/main']);
    await Promise.race([reading, new Promise((_, rej) => setTimeout(() => rej(new Error('follow did not deliver the appended lines')), 15_000))]);
    expect(followed).toEqual(['scaled cloudserver to 3', 'reconciled Zenko zenko-mon/main']);

    const none = await cluster.logs.containers(ENV, 'zenko', { component: 'kafka' }).next().catch((e: unknown) => e);
    expect(none).toMatchObject({ code: 'NO_PODS' });
  });

  it('Loki (replay server behind the ingress): ready, LogQL from labels, paging as the UI pages', async () => {
    const loki = mk8s.monitoring?.loki;
    if (!loki) throw new Error('no Loki replay server');
    expect(await cluster.logs.loki.ready()).toBe(true);
    const base = BigInt(Date.now() - 600_000) * 1_000_000n;
    const labels = (pod: string) => ({ job: 'fluent-bit', namespace: ENV, app: 'zenko-operator', container: 'zenko-operator', pod, node: 'node-1', stream: 'stdout', release: 'unknown' });
    // 6000 entries per pod; the two pods share every timestamp, so page edges fall inside one nanosecond.
    const values = (pod: string) => Array.from({ length: 6000 }, (_, i): [string, string] => [(base + BigInt(i) * 1000n).toString(), JSON.stringify({ log: `${pod} line ${i}${i % 1000 === 0 ? ' error' : ''}\n`, stream: 'stdout' })]);
    loki.push([
      { stream: labels('zenko-operator-a'), values: values('zenko-operator-a') },
      { stream: labels('zenko-operator-b'), values: values('zenko-operator-b') },
      { stream: { ...labels('other'), namespace: 'elsewhere' }, values: values('other').slice(0, 10) },
    ]);
    const before = loki.requests.length;
    const seen: string[] = [];
    for await (const e of cluster.logs.loki.queryRange({ labels: { namespace: ENV, app: 'zenko-operator' } })) seen.push(`${e.timestamp} ${e.message}`);
    const pages = loki.requests.slice(before).filter((r) => r.path === '/loki/api/v1/query_range');
    expect(pages.length).toBe(3);
    expect(pages[0]?.query).toMatchObject({ query: `{namespace="${ENV}",app="zenko-operator"}`, limit: '4999', direction: 'backward' });
    expect(seen).toHaveLength(12_000);
    expect(new Set(seen).size).toBe(12_000);
    expect(seen[0]).toMatch(/ zenko-operator-[ab] line 5999$/);
    expect(seen.at(-1)).toMatch(/ zenko-operator-[ab] line 0 error$/);
    const errors: string[] = [];
    for await (const e of cluster.logs.loki.queryRange({ labels: { namespace: ENV, pod: 'zenko-operator-a' }, contains: ['error'] })) errors.push(e.message);
    expect(errors).toEqual(['5000', '4000', '3000', '2000', '1000', '0'].map((n) => `zenko-operator-a line ${n} error`));
    expect(await cluster.logs.loki.labels({ name: 'namespace' })).toEqual(['elsewhere', ENV]);
    const bad = await cluster.logs.loki.queryRange({ query: `{namespace="${ENV}"} | json | level="error"` }).next().catch((e: unknown) => e);
    expect(bad).toMatchObject({ code: 'LOKI_QUERY_REJECTED', status: 400 });
  });

  it('the CLI: metrics query, alerts list|silence|silences|expire, dashboards, logs, health, status (built dist/cli.js)', async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
    const env = await writeEmulatorEnv(dir, mk8s, { METALK8S_INGRESS_URL: mk8s.monitoring?.ingressUrl });
    const solution = (...args: string[]) => runCli(env, args, 120_000);
    const data = (stdout: string) => (JSON.parse(stdout.split('\n').find((l) => l.startsWith('{"type":"result"')) ?? '{}') as { data?: unknown }).data;

    const noSalt = await pexec(process.execPath, [CLI, 'metrics', 'query', 'vector(3)'], { env: { ...env, METALK8S_SALT_API_URL: '', METALK8S_SALT_API_USERNAME: '', METALK8S_SALT_API_TOKEN: '' }, timeout: 60_000 });
    expect(noSalt.stdout).toBe('{} 3\n');
    const q = await solution('metrics', 'query', 'sum(up{job="zenko-cloudserver"})');
    expect(q).toMatchObject({ code: 0, stdout: '{} 0\n' });
    const bad = await solution('metrics', 'query', 'sum(up');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error: PromQL "sum\(up": line 1, column \d+: .* \[PROMQL_SYNTAX\]/);
    expect(bad.stderr).not.toMatch(/\n\s+at /);

    const list = await solution('alerts', 'list', '-f', 'alertname=ZenkoS3Down');
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^ALERT\s+SEVERITY\s+STATE/);
    expect(list.stdout).toMatch(/ZenkoS3Down\s+critical\s+active\s+-/);
    const sil = await solution('alerts', 'silence', 'alertname=ZenkoS3Down', 'severity=~"critical|warning"', '-d', '15m', '-c', 'CLI test', '--json');
    const id = (data(sil.stdout) as { silenceID: string }).silenceID;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await solution('alerts', 'list', '-f', 'alertname=ZenkoS3Down')).stdout).toMatch(new RegExp(`suppressed \\(${id}\\)`));
    expect((await solution('alerts', 'silences')).stdout).toMatch(new RegExp(`${id}\\s+active.*alertname="ZenkoS3Down",severity=~"critical\\|warning"\\s+CLI test`));
    expect(await solution('alerts', 'expire', id)).toMatchObject({ code: 0, stdout: `expired ${id}\n` });
    expect((await solution('alerts', 'silences')).stdout).not.toContain(id);

    const dash = await solution('dashboards', '--solution', 'zenko');
    expect(dash.stdout.split('\n')[1]).toMatch(/^Zenko\s+Zenko \/ Kafka\s+zenko-kafka\s+zenko 2\.6\.0\s+ConfigMap metalk8s-monitoring\/zenko-dashboard-zenko-kafka$/);

    const logs = await solution('logs', ENV, 'zenko', '--component', 'operator', '--tail', '1');
    expect(logs.stdout).toMatch(/^\[zenko-operator-[a-z0-9-]+\/zenko-operator\] reconciled Zenko zenko-mon\/main\n$/);

    const health = await solution('health', ENV, 'zenko');
    expect(health.code).toBe(2);
    expect(health.stdout).toMatch(/^zenko 2\.6\.0 in zenko-mon \(zenko-mon\): unhealthy\n/);
    expect(health.stdout).toMatch(/✗ alerts\s+1 firing\n\s+ZenkoS3Down \(critical\) active, rule group zenko-cloudserver/);
    const hj = data((await solution('health', ENV, 'zenko', '--json')).stdout) as { status: string };
    expect(hj.status).toBe('unhealthy');

    const status = await solution('status');
    expect(status.stdout.split('\n')[0]).toMatch(/OPERATORS\s+HEALTH$/);
    expect(status.stdout).toMatch(/zenko\s+2\.6\.0\s+yes\s+zenko-mon\s+zenko-mon:Available\s+zenko-mon:unhealthy/);
  });

  it('Alertmanager down gives a typed, retryable error (through the ingress and directly)', async () => {
    const mon = mk8s.monitoring;
    if (!mon) throw new Error('no monitoring');
    await mon.alertmanager.stop();
    try {
      const e = await cluster.alerts.list().catch((err: unknown) => err);
      expect(e).toBeInstanceOf(ClusterError);
      expect(e).toMatchObject({ code: 'SERVICE_UNAVAILABLE', status: 502, retryable: true });
      const direct = await connect({
        kubeconfigYaml: mk8s.kubeconfigYaml,
        saltApi: { url: mk8s.saltApi.url, username: mk8s.saltApi.username, token: mk8s.saltApi.token, ca: mk8s.saltApi.ca },
        services: { alertmanagerUrl: mon.alertmanagerUrl },
      });
      const e2 = await direct.alerts.silence({ matchers: ['alertname=x'], duration: '1m', comment: 'x' }).catch((err: unknown) => err);
      expect(e2).toMatchObject({ code: 'SERVICE_UNREACHABLE', retryable: true });
      expect((e2 as Error).message).toMatch(/cannot reach Alertmanager at http:\/\/127\.0\.0\.1:\d+/);
    } finally {
      await mon.alertmanager.start();
    }
    // Silences survive the restart (Alertmanager's snapshot), as on MetalK8s' PV.
    expect((await cluster.alerts.silences()).length).toBeGreaterThan(0);
  });
});
