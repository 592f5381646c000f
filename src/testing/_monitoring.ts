/**
 * The emulator's monitoring stack: real Prometheus and Alertmanager on 127.0.0.1, behind real
 * nginx playing MetalK8s' control-plane ingress (`/api/prometheus`, `/api/alertmanager`,
 * `/api/loki`, `/api/kubernetes`, `/api/salt`; platform-reference.md §C.1), and what
 * prometheus-operator does for the objects a Solution ships: every PrometheusRule labelled
 * `metalk8s.scality.com/monitor` becomes a rule file and Prometheus reloads. Prometheus sends
 * its alerts to Alertmanager, routed as MetalK8s routes them (§C.3).
 *
 * Loki is AGPL and not available here: a small server replays recorded Loki answers (see
 * {@link startLokiReplay}). ServiceMonitors are not turned into scrape jobs (no pod really
 * runs); tests add static scrape targets with {@link Monitoring.setScrapeTargets}.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { kubeFailure, kubeGet, kubeRequest } from '../_kube.js';
import { ClusterError } from '../errors.js';
import { NGINX_TEMP_DIRS, staticRegistryNginxConf } from './_nginx.js';
import { freePort } from './_ports.js';
import { type Daemon, startDaemon } from './_process.js';


/** Alertmanager's version in MetalK8s 129 (platform-reference.md §0). */
export const ALERTMANAGER_VERSION = 'v0.27.0';
/** Label prometheus-operator selects PrometheusRules with in MetalK8s (metalk8s-reference.md §5.2). */
const MONITOR_LABEL = 'metalk8s.scality.com/monitor';

/** One Loki stream: its labels and `[nanosecond timestamp, line]` entries (Loki's push shape). */
export interface LokiStream {
  readonly stream: Readonly<Record<string, string>>;
  readonly values: readonly (readonly [string, string])[];
}

/** Options of the emulator's monitoring stack. */
export interface MonitoringOptions {
  readonly kubeConfig: KubeConfig;
  /** Working directory (configuration, data, logs). */
  readonly dir: string;
  /** PEM certificate and key for the ingress (signed by the cluster CA). @default plain HTTP */
  readonly tls?: { readonly cert: string; readonly key: string } | undefined;
  /** HTTPS URL of the Kubernetes API, served under `/api/kubernetes`. @default none */
  readonly kubernetesUrl?: string | undefined;
  /** URL of the SaltAPI, served under `/api/salt`. @default none */
  readonly saltApiUrl?: string | undefined;
  /** Prometheus `evaluation_interval` and `scrape_interval`. @default '1s' */
  readonly interval?: string | undefined;
  /**
   * Longest `for` written to the rule files: longer ones are shortened so tests need not wait
   * five minutes (the PrometheusRule objects keep theirs). @default no limit
   */
  readonly maxAlertFor?: string | undefined;
  /** Alertmanager `group_wait`; MetalK8s uses 30s. @default '1s' */
  readonly groupWait?: string | undefined;
  /** Recorded Loki streams the replay server answers from. @default none */
  readonly lokiStreams?: readonly LokiStream[] | undefined;
  /** How often PrometheusRules are read. @default 1000 */
  readonly ruleSyncIntervalMs?: number | undefined;
}

/** A running monitoring stack. */
export interface Monitoring {
  /** `https://127.0.0.1:<port>` (or `http://` without TLS): the control-plane ingress. */
  readonly ingressUrl: string;
  readonly prometheusUrl: string;
  readonly alertmanagerUrl: string;
  readonly lokiUrl: string;
  /** Version of the Alertmanager that runs, and its binary. */
  readonly alertmanager: { readonly version: string; readonly binary: string; stop(): Promise<void>; start(): Promise<void> };
  readonly loki: LokiReplay;
  /** Sets the static targets of a scrape job (file service discovery: no reload needed). */
  setScrapeTargets(job: string, targets: readonly string[], options?: ScrapeTargetsOptions): Promise<void>;
  /** Reads the PrometheusRules now and reloads Prometheus when the rule files changed. */
  syncRules(): Promise<{ readonly files: readonly string[]; readonly reloaded: boolean }>;
  stop(): Promise<void>;
}

/** Options of {@link Monitoring.setScrapeTargets}. */
export interface ScrapeTargetsOptions {
  /** Labels added to every sample of these targets (e.g. `namespace`). @default none */
  readonly labels?: Readonly<Record<string, string>> | undefined;
}

function cacheDir(): string {
  return process.env.SDK_CACHE_DIR ?? '/var/cache/metalk8s-sdk';
}

/** Alertmanager v0.27.0 built by `.ci/setup.d/30-alertmanager.sh`, else Debian's. */
export function alertmanagerBinary(): { readonly binary: string; readonly version: string } {
  const built = join(cacheDir(), 'bin', `alertmanager-${ALERTMANAGER_VERSION}`, 'alertmanager');
  if (existsSync(built)) return { binary: built, version: ALERTMANAGER_VERSION };
  for (const b of ['/usr/bin/prometheus-alertmanager', '/usr/bin/alertmanager']) {
    if (!existsSync(b)) continue;
    // `--version` prints `alertmanager, version 0.25.0 (branch: debian/sid, …)`.
    let version = 'unknown';
    try {
      const out = execFileSync(b, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      version = /version (\S+)/.exec(out)?.[1] ?? version;
    } catch {}
    return { binary: b, version: `${version} (Debian)` };
  }
  throw new ClusterError('ALERTMANAGER_UNAVAILABLE', 'no Alertmanager binary: neither the cached v0.27.0 build nor Debian\'s prometheus-alertmanager', {
    hint: 'apt-get install prometheus-alertmanager, or run .ci/setup.d/30-alertmanager.sh (go install).',
  });
}

function durationSeconds(d: string): number {
  let total = 0;
  for (const m of d.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)) {
    const n = Number(m[1]);
    total += n * ({ ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400, w: 604_800, y: 31_536_000 }[m[2] ?? 's'] ?? 0);
  }
  return total;
}

async function waitHttp(url: string, daemon: Daemon, what: string): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      const res = await fetch(url);
      if (res.status === 200) return;
    } catch {}
    if (i > 300 || daemon.child.exitCode !== null) throw new ClusterError('MONITORING_START_FAILED', `${what} did not start:\n${daemon.tail()}`, { hint: `See ${daemon.log}.` });
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function writeAtomic(path: string, text: string): Promise<void> {
  await writeFile(`${path}.tmp`, text);
  await rename(`${path}.tmp`, path);
}

/** MetalK8s' Alertmanager route and inhibitions (salt/…/prometheus-operator/config/alertmanager.yaml), with a short group_wait. */
function alertmanagerConfig(groupWait: string): string {
  return stringify({
    route: {
      group_by: ['namespace'],
      group_wait: groupWait,
      group_interval: '5s',
      repeat_interval: '12h',
      receiver: 'null',
      routes: [{ receiver: 'null', matchers: ['alertname =~ "InfoInhibitor|Watchdog"'] }],
    },
    inhibit_rules: [
      { source_matchers: ['severity = critical'], target_matchers: ['severity =~ warning|info'], equal: ['namespace', 'alertname'] },
      { source_matchers: ['severity = warning'], target_matchers: ['severity = info'], equal: ['namespace', 'alertname'] },
      { source_matchers: ['alertname = InfoInhibitor'], target_matchers: ['severity = info'], equal: ['namespace'] },
    ],
    receivers: [{ name: 'null' }],
  });
}

/** MetalK8s' own `Watchdog` rule (kube-prometheus-stack general.rules): always firing. */
const GENERAL_RULES = stringify({
  groups: [
    {
      name: 'general.rules',
      rules: [
        {
          alert: 'Watchdog',
          expr: 'vector(1)',
          labels: { severity: 'none' },
          annotations: { summary: 'An alert that should always be firing to certify that Alertmanager is working properly.' },
        },
      ],
    },
  ],
});

type RuleObject = { metadata: { name: string; namespace: string; uid: string; labels?: Record<string, string> }; spec?: { groups?: { name: string; interval?: string; rules?: Record<string, unknown>[] }[] } };

/**
 * Starts Prometheus, Alertmanager, the Loki replay server and nginx, and the PrometheusRule
 * sync loop.
 */
export async function startMonitoring(options: MonitoringOptions): Promise<Monitoring> {
  const dir = options.dir;
  const interval = options.interval ?? '1s';
  const daemons: Daemon[] = [];
  let loki: LokiReplay | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const stop = async (): Promise<void> => {
    stopped = true;
    if (timer) clearTimeout(timer);
    for (const d of [...daemons].reverse()) await d.stop();
    await am?.stop();
    await loki?.stop();
  };
  let am: { stop(): Promise<void>; start(): Promise<void>; daemon: Daemon | undefined } | undefined;
  try {
    for (const d of ['prometheus/data', 'prometheus/rules', 'prometheus/targets', 'alertmanager/data', 'nginx']) await mkdir(join(dir, d), { recursive: true });

    // --- Alertmanager ------------------------------------------------------------------------
    const amBin = alertmanagerBinary();
    const amPort = await freePort();
    const amUrl = `http://127.0.0.1:${amPort}`;
    await writeFile(join(dir, 'alertmanager/alertmanager.yml'), alertmanagerConfig(options.groupWait ?? '1s'));
    const amState: { daemon: Daemon | undefined } = { daemon: undefined };
    const startAm = async (): Promise<void> => {
      if (amState.daemon && amState.daemon.child.exitCode === null) return;
      const d = startDaemon(
        'alertmanager',
        amBin.binary,
        [
          `--config.file=${join(dir, 'alertmanager/alertmanager.yml')}`,
          `--storage.path=${join(dir, 'alertmanager/data')}`,
          `--web.listen-address=127.0.0.1:${amPort}`,
          '--cluster.listen-address=',
          '--log.level=warn',
        ],
        join(dir, 'alertmanager.log'),
      );
      amState.daemon = d;
      await waitHttp(`${amUrl}/-/ready`, d, 'Alertmanager');
    };
    am = {
      get daemon() {
        return amState.daemon;
      },
      start: startAm,
      stop: async () => {
        await amState.daemon?.stop();
      },
    };
    await startAm();

    // --- Prometheus --------------------------------------------------------------------------
    const promPort = await freePort();
    const promUrl = `http://127.0.0.1:${promPort}`;
    await writeFile(join(dir, 'prometheus/rules/metalk8s-general.yaml'), GENERAL_RULES);
    await writeFile(
      join(dir, 'prometheus/prometheus.yml'),
      stringify({
        global: { scrape_interval: interval, evaluation_interval: interval, scrape_timeout: interval },
        rule_files: [join(dir, 'prometheus/rules/*.yaml')],
        alerting: { alertmanagers: [{ api_version: 'v2', static_configs: [{ targets: [`127.0.0.1:${amPort}`] }] }] },
        scrape_configs: [
          { job_name: 'prometheus', static_configs: [{ targets: [`127.0.0.1:${promPort}`] }] },
          { job_name: 'static', file_sd_configs: [{ files: [join(dir, 'prometheus/targets/*.json')], refresh_interval: '1s' }] },
        ],
      }),
    );
    const prometheus = startDaemon(
      'prometheus',
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus/prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'prometheus/data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
        '--web.enable-lifecycle',
        '--storage.tsdb.retention.time=2h',
        // Firing alerts are sent again every second instead of every minute: short test waits.
        '--rules.alert.resend-delay=1s',
        '--log.level=warn',
      ],
      join(dir, 'prometheus.log'),
    );
    daemons.push(prometheus);
    await waitHttp(`${promUrl}/-/ready`, prometheus, 'Prometheus');

    // --- Loki replay -------------------------------------------------------------------------
    loki = await startLokiReplay({ streams: options.lokiStreams ?? [] });

    // --- nginx: the control-plane ingress -----------------------------------------------------
    const ngxDir = join(dir, 'nginx');
    for (const t of NGINX_TEMP_DIRS) await mkdir(join(ngxDir, t), { recursive: true });
    let tlsFiles: { certFile: string; keyFile: string } | undefined;
    if (options.tls) {
      tlsFiles = { certFile: join(ngxDir, 'ingress.crt'), keyFile: join(ngxDir, 'ingress.key') };
      await writeFile(tlsFiles.certFile, options.tls.cert);
      await writeFile(tlsFiles.keyFile, options.tls.key, { mode: 0o600 });
    }
    const ngxPort = await freePort();
    // MetalK8s' ingress paths: `/api/<service>(/|$)(.*)` rewritten to `/$2` (ingress.sls).
    const route = (path: string, upstream: string, https = false): string =>
      `location ~ ^/api/${path}(/|$)(.*)$ {\n  proxy_pass ${upstream.replace(/\/+$/, '')}/$2$is_args$args;\n  proxy_buffering off;\n  proxy_read_timeout 1h;\n${https ? '  proxy_ssl_verify off;\n' : ''}}\n`;
    const routes = [
      route('prometheus', promUrl),
      route('alertmanager', amUrl),
      route('loki', loki.url),
      ...(options.kubernetesUrl ? [route('kubernetes', options.kubernetesUrl, true)] : []),
      ...(options.saltApiUrl ? [route('salt', options.saltApiUrl, options.saltApiUrl.startsWith('https:'))] : []),
    ].join('');
    await writeFile(join(ngxDir, 'ingress.inc'), routes);
    const ngxConf = join(ngxDir, 'nginx.conf');
    await writeFile(ngxConf, staticRegistryNginxConf(ngxDir, ngxPort, [join(ngxDir, 'ingress.inc')], tlsFiles));
    const nginx = startDaemon('nginx', 'nginx', ['-c', ngxConf, '-p', ngxDir], join(dir, 'nginx.log'));
    daemons.push(nginx);
    const ingressUrl = `${tlsFiles ? 'https' : 'http'}://127.0.0.1:${ngxPort}`;
    for (let i = 0; ; i++) {
      const up = await new Promise<boolean>((resolve) => {
        const s = http.get(`http://127.0.0.1:${ngxPort}/`, (res) => {
          res.resume();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      });
      if (up) break;
      if (i > 200 || nginx.child.exitCode !== null) throw new ClusterError('MONITORING_START_FAILED', `nginx (control-plane ingress) did not start:\n${nginx.tail()}`);
      await new Promise((r) => setTimeout(r, 50));
    }

    // --- prometheus-operator: PrometheusRules → rule files → reload ---------------------------
    const maxFor = options.maxAlertFor ? durationSeconds(options.maxAlertFor) : undefined;
    let digest = '';
    const syncRules = async (): Promise<{ files: string[]; reloaded: boolean }> => {
      const list = await kubeGet<{ items: RuleObject[] }>(
        options.kubeConfig,
        `/apis/monitoring.coreos.com/v1/prometheusrules?labelSelector=${encodeURIComponent(MONITOR_LABEL)}`,
      ).catch(() => undefined);
      const files = new Map<string, string>();
      for (const pr of list?.items ?? []) {
        const groups = (pr.spec?.groups ?? []).map((g) => ({
          ...g,
          rules: (g.rules ?? []).map((r) => {
            if (maxFor === undefined || typeof r.for !== 'string' || durationSeconds(r.for) <= maxFor) return r;
            return { ...r, for: options.maxAlertFor };
          }),
        }));
        files.set(`${pr.metadata.namespace}-${pr.metadata.name}-${pr.metadata.uid}.yaml`, stringify({ groups }));
      }
      const next = createHash('sha256').update(JSON.stringify([...files].sort())).digest('hex');
      if (next === digest) return { files: [...files.keys()].sort(), reloaded: false };
      const rulesDir = join(dir, 'prometheus/rules');
      for (const [name, text] of files) await writeAtomic(join(rulesDir, name), text);
      for (const f of await readdir(rulesDir)) if (f !== 'metalk8s-general.yaml' && f.endsWith('.yaml') && !files.has(f)) await rm(join(rulesDir, f), { force: true });
      const res = await fetch(`${promUrl}/-/reload`, { method: 'POST' });
      if (res.status !== 200) {
        // Prometheus keeps its previous rules when a reload fails, as in a real cluster.
        digest = next;
        return { files: [...files.keys()].sort(), reloaded: false };
      }
      digest = next;
      return { files: [...files.keys()].sort(), reloaded: true };
    };
    const loop = (): void => {
      timer = setTimeout(() => {
        syncRules()
          .catch(() => {})
          .finally(() => {
            if (!stopped) loop();
          });
      }, options.ruleSyncIntervalMs ?? 1000);
      timer.unref();
    };
    await syncRules();
    loop();

    const setScrapeTargets = async (job: string, targets: readonly string[], options: ScrapeTargetsOptions = {}): Promise<void> => {
      const labels = options.labels ?? {};
      const file = join(dir, 'prometheus/targets', `${job.replace(/[^a-zA-Z0-9_-]/g, '_')}.json`);
      await writeAtomic(file, JSON.stringify([{ targets, labels: { ...labels, job } }]));
    };

    const lokiRef = loki;
    return {
      ingressUrl,
      prometheusUrl: promUrl,
      alertmanagerUrl: amUrl,
      lokiUrl: lokiRef.url,
      alertmanager: { version: amBin.version, binary: amBin.binary, stop: () => am?.stop() ?? Promise.resolve(), start: startAm },
      loki: lokiRef,
      setScrapeTargets,
      syncRules,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * Publishes the ingress as MetalK8s 129 does: ClusterConfig `main`
 * (`metalk8s.scality.com/v1alpha1`) with `status.controlPlane.ingress.endpoint`
 * (metalk8s-reference.md §3.1), so `connect()` finds the SaltAPI and the platform services from
 * the kubeconfig alone. The CRD is written here with an open schema.
 */
export async function publishControlPlaneIngress(kc: KubeConfig, endpoint: string): Promise<void> {
  const crd = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'clusterconfigs.metalk8s.scality.com' },
    spec: {
      group: 'metalk8s.scality.com',
      names: { kind: 'ClusterConfig', listKind: 'ClusterConfigList', plural: 'clusterconfigs', singular: 'clusterconfig' },
      scope: 'Cluster',
      versions: [{ name: 'v1alpha1', served: true, storage: true, subresources: { status: {} }, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
    },
  };
  const made = await kubeRequest(kc, 'POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd);
  if (made.status >= 300 && made.status !== 409) throw kubeFailure('create the ClusterConfig CRD', made);
  const path = '/apis/metalk8s.scality.com/v1alpha1/clusterconfigs';
  for (let i = 0; ; i++) {
    const res = await kubeRequest(kc, 'POST', path, { apiVersion: 'metalk8s.scality.com/v1alpha1', kind: 'ClusterConfig', metadata: { name: 'main' }, spec: {} });
    if (res.status < 300 || res.status === 409) break;
    // 404 until the new CRD is served.
    if (i > 200) throw kubeFailure('create ClusterConfig main', res);
    await new Promise((r) => setTimeout(r, 50));
  }
  const res = await kubeRequest(kc, 'PATCH', `${path}/main/status`, { status: { controlPlane: { ingress: { endpoint } } } }, 'application/merge-patch+json');
  if (res.status >= 300) throw kubeFailure('set the ingress endpoint of ClusterConfig main', res);
}

// --- Loki replay -----------------------------------------------------------------------------

/** The Loki replay server. */
export interface LokiReplay {
  readonly url: string;
  /** Adds recorded entries (as Loki's push API receives them). */
  push(streams: readonly LokiStream[]): void;
  /** Requests answered, for tests that check paging. */
  readonly requests: readonly { readonly path: string; readonly query: Readonly<Record<string, string>> }[];
  stop(): Promise<void>;
}

type Matcher = { name: string; op: '=' | '!=' | '=~' | '!~'; value: string };
type LineFilter = { op: '|=' | '!=' | '|~' | '!~'; value: string };

/** Parses the subset of LogQL the replay server answers: a stream selector and line filters. */
function parseLogql(q: string): { matchers: Matcher[]; filters: LineFilter[] } | string {
  const m = /^\s*\{([^}]*)\}(.*)$/s.exec(q);
  if (!m) return 'parse error: queries must start with a stream selector {…}';
  const matchers: Matcher[] = [];
  const body = m[1] ?? '';
  const re = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*")\s*(,|$)/gy;
  let pos = 0;
  while (pos < body.length && body.slice(pos).trim() !== '') {
    re.lastIndex = pos;
    const mm = re.exec(body);
    if (!mm) return `parse error at ${JSON.stringify(body.slice(pos))}`;
    matchers.push({ name: mm[1] ?? '', op: (mm[2] ?? '=') as Matcher['op'], value: JSON.parse(mm[3] ?? '""') as string });
    pos = re.lastIndex;
  }
  if (matchers.length === 0) return 'parse error: queries require at least one matcher';
  const filters: LineFilter[] = [];
  let rest = (m[2] ?? '').trim();
  while (rest !== '') {
    const f = /^(\|=|!=|\|~|!~)\s*("(?:[^"\\]|\\.)*"|`[^`]*`)\s*/.exec(rest);
    if (!f) return `the replay server only answers stream selectors and line filters, not ${JSON.stringify(rest)}`;
    const raw = f[2] ?? '""';
    filters.push({ op: (f[1] ?? '|=') as LineFilter['op'], value: raw.startsWith('`') ? raw.slice(1, -1) : (JSON.parse(raw) as string) });
    rest = rest.slice(f[0].length);
  }
  return { matchers, filters };
}

function toNs(v: string | undefined, fallback: bigint): bigint {
  if (v === undefined || v === '') return fallback;
  if (/^\d+$/.test(v)) return v.length > 12 ? BigInt(v) : BigInt(v) * 1_000_000_000n;
  if (/^\d+\.\d+$/.test(v)) return BigInt(Math.round(Number(v) * 1e6)) * 1000n;
  const t = Date.parse(v);
  return Number.isNaN(t) ? fallback : BigInt(t) * 1_000_000n;
}

/**
 * A stand-in for Loki's query API, answering from recorded streams: `GET /ready`,
 * `/loki/api/v1/query_range` (stream selector with `=`, `!=`, `=~`, `!~`, line filters, `start`
 * inclusive, `end` exclusive, `limit`, `direction`), `/loki/api/v1/labels` and
 * `/loki/api/v1/label/<name>/values`, in the shapes of Loki's API documentation. It is not Loki.
 */
export async function startLokiReplay(options: { readonly streams?: readonly LokiStream[] | undefined } = {}): Promise<LokiReplay> {
  const streams: LokiStream[] = [...(options.streams ?? [])];
  const requests: { path: string; query: Record<string, string> }[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://loki');
    const query = Object.fromEntries(url.searchParams);
    requests.push({ path: url.pathname, query });
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/ready') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ready\n');
      return;
    }
    if (url.pathname === '/loki/api/v1/labels') {
      json(200, { status: 'success', data: [...new Set(streams.flatMap((s) => Object.keys(s.stream)))].sort() });
      return;
    }
    const lv = /^\/loki\/api\/v1\/label\/([^/]+)\/values$/.exec(url.pathname);
    if (lv) {
      const name = decodeURIComponent(lv[1] ?? '');
      json(200, { status: 'success', data: [...new Set(streams.map((s) => s.stream[name]).filter((v): v is string => v !== undefined))].sort() });
      return;
    }
    if (url.pathname !== '/loki/api/v1/query_range') {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('404 page not found\n');
      return;
    }
    const parsed = parseLogql(url.searchParams.get('query') ?? '');
    if (typeof parsed === 'string') {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(`${parsed}\n`);
      return;
    }
    const now = BigInt(Date.now()) * 1_000_000n;
    const end = toNs(url.searchParams.get('end') ?? undefined, now);
    const start = toNs(url.searchParams.get('start') ?? undefined, end - 3_600_000_000_000n);
    const limit = Number(url.searchParams.get('limit') ?? '100');
    const backward = (url.searchParams.get('direction') ?? 'backward') === 'backward';
    const labelOk = (labels: Readonly<Record<string, string>>): boolean =>
      parsed.matchers.every((m) => {
        const v = labels[m.name] ?? '';
        if (m.op === '=') return v === m.value;
        if (m.op === '!=') return v !== m.value;
        const hit = new RegExp(`^(?:${m.value})$`).test(v);
        return m.op === '=~' ? hit : !hit;
      });
    const lineOk = (line: string): boolean =>
      parsed.filters.every((f) => (f.op === '|=' ? line.includes(f.value) : f.op === '!=' ? !line.includes(f.value) : f.op === '|~' ? new RegExp(f.value).test(line) : !new RegExp(f.value).test(line)));
    const entries: { stream: Readonly<Record<string, string>>; ts: bigint; line: string }[] = [];
    for (const s of streams) {
      if (!labelOk(s.stream)) continue;
      for (const [ts, line] of s.values) {
        const t = BigInt(ts);
        if (t >= start && t < end && lineOk(line)) entries.push({ stream: s.stream, ts: t, line });
      }
    }
    entries.sort((a, b) => (a.ts === b.ts ? 0 : (a.ts < b.ts) === backward ? 1 : -1));
    const page = entries.slice(0, limit);
    const byStream = new Map<string, { stream: Readonly<Record<string, string>>; values: [string, string][] }>();
    for (const e of page) {
      const key = JSON.stringify(Object.entries(e.stream).sort());
      const s = byStream.get(key) ?? { stream: e.stream, values: [] };
      s.values.push([e.ts.toString(), e.line]);
      byStream.set(key, s);
    }
    json(200, {
      status: 'success',
      data: { resultType: 'streams', result: [...byStream.values()], stats: { summary: { totalEntriesReturned: page.length } } },
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    push: (more) => {
      streams.push(...more);
    },
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
