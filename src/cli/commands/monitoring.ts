/**
 * `solution metrics|alerts|logs|dashboards|health`: the platform services of a cluster.
 */
import type { Command } from '@commander-js/extra-typings';
import { type Alert, connectPlatform, type HealthReport, type PlatformServices, type QueryResult } from '../../cluster/index.js';
import { ClusterError } from '../../errors.js';
import { FLAG_RULES, numericOption } from '../_options.js';
import { type ConnectionFlags, type Handler, run as runCluster, servicesFrom, withConnectionFlags } from './cluster.js';

/** These commands need the kubeconfig and the services, not the SaltAPI. */
function run<F extends ConnectionFlags = ConnectionFlags>(fn: Handler<F, PlatformServices>): (...raw: unknown[]) => Promise<void> {
  return runCluster<F, PlatformServices>(fn, async (flags) => connectPlatform({ ...(flags.kubeconfig ? { kubeconfigPath: flags.kubeconfig } : {}), services: servicesFrom(flags) }));
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

function labelText(labels: Readonly<Record<string, string>>): string {
  const name = labels.__name__ ?? '';
  const rest = Object.entries(labels)
    .filter(([k]) => k !== '__name__')
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(', ');
  return `${name}{${rest}}`;
}

function queryText(r: QueryResult): string {
  switch (r.resultType) {
    case 'vector':
      return r.result.map((s) => `${labelText(s.metric)} ${s.value}`).join('\n') || '(empty vector)';
    case 'matrix':
      return r.result.map((s) => `${labelText(s.metric)}\n${s.values.map((v) => `  ${new Date(v.time * 1000).toISOString()} ${v.value}`).join('\n')}`).join('\n') || '(empty matrix)';
    case 'scalar':
      return String(r.result.value);
    case 'string':
      return r.result.value;
  }
}

function parseTime(flag: string, v: string | undefined): Date | undefined {
  if (v === undefined) return undefined;
  const d = /^\d+(\.\d+)?$/.test(v) ? new Date(Number(v) * 1000) : new Date(v);
  if (Number.isNaN(d.getTime())) throw new ClusterError('TIME_INVALID', `${flag} ${v}: not a time`, { hint: 'Give an RFC 3339 time or Unix seconds.' });
  return d;
}

function alertRows(alerts: readonly Alert[]): string {
  if (alerts.length === 0) return 'no alert';
  return table([
    ['ALERT', 'SEVERITY', 'STATE', 'NAMESPACE', 'SINCE', 'SUMMARY'],
    ...alerts.map((a) => [
      a.labels.alertname ?? '',
      a.labels.severity ?? '',
      a.status.state === 'suppressed' ? `suppressed${a.status.silencedBy.length ? ` (${a.status.silencedBy.join(',')})` : ''}` : a.status.state,
      a.labels.namespace ?? '-',
      a.startsAt,
      a.annotations.summary ?? '',
    ]),
  ]);
}

/** The text `solution health` prints. */
export function healthText(r: HealthReport): string {
  const mark = { ok: '✓', warning: '!', error: '✗', unknown: '?' } as const;
  const lines = [`${r.solution} ${r.version ?? '?'} in ${r.environment} (${r.namespaces.join(', ')}): ${r.status}`];
  for (const c of r.checks) {
    lines.push(`  ${mark[c.status]} ${c.name.padEnd(16)} ${c.summary}`);
    for (const d of c.details) lines.push(`      ${d}`);
  }
  return lines.join('\n');
}

/** Registers the platform-service commands. */
export function registerMonitoringCommands(program: Command): void {
  const metrics = program.command('metrics').description('Prometheus: query metrics (through Thanos, as MetalK8s serves them).');
  withConnectionFlags(
    metrics
      .command('query')
      .description('Evaluate a PromQL expression (checked before it is sent).')
      .argument('<promql>')
      .option('--time <t>', 'evaluation time (RFC 3339 or Unix seconds)')
      .option('--start <t>', 'range query: start')
      .option('--end <t>', 'range query: end (default now)')
      .option('--step <step>', 'range query: resolution (15s, 1m…)', '60s'),
  ).action(
    run<ConnectionFlags & { time?: string; start?: string; end?: string; step: string }>(async (cluster, out, signal, [promql = ''], flags) => {
      if (flags.start !== undefined) {
        const start = parseTime('--start', flags.start) ?? new Date();
        const end = parseTime('--end', flags.end) ?? new Date();
        const result = await cluster.metrics.queryRange(promql, { start, end, step: flags.step, signal });
        out.result(queryText({ resultType: 'matrix', result, warnings: [] }), { resultType: 'matrix', result });
        return;
      }
      const r = await cluster.metrics.query(promql, { time: parseTime('--time', flags.time), signal });
      for (const w of r.warnings) out.warn(w);
      out.result(queryText(r), r);
    }),
  );

  const alerts = program.command('alerts').description('Alertmanager: alerts and silences.');
  withConnectionFlags(
    alerts
      .command('list')
      .description('Alerts, with their silenced or inhibited state.')
      .option('-f, --filter <matcher...>', 'matchers such as alertname=ZenkoS3Down or severity=~"critical|warning"')
      .option('--active-only', 'hide silenced and inhibited alerts'),
  ).action(
    run<ConnectionFlags & { filter?: string[]; activeOnly?: boolean }>(async (cluster, out, signal, _args, flags) => {
      const list = await cluster.alerts.list({ filter: flags.filter, ...(flags.activeOnly ? { silenced: false, inhibited: false } : {}), signal });
      out.result(alertRows(list), list);
    }),
  );
  withConnectionFlags(
    alerts
      .command('silence')
      .description('Silence the alerts matching every matcher; prints the silence id.')
      .argument('<matchers...>', 'alertname=ZenkoS3Down namespace=zenko-prod …')
      .requiredOption('-d, --duration <duration>', 'how long (30m, 2h, 1h30m)')
      .requiredOption('-c, --comment <text>', 'why')
      .option('--created-by <name>', 'author', process.env.USER ?? 'metalk8s-solution-sdk'),
  ).action(
    run<ConnectionFlags & { duration: string; comment: string; createdBy: string }>(async (cluster, out, signal, matchers, flags) => {
      const id = await cluster.alerts.silence({ matchers, duration: flags.duration, comment: flags.comment, createdBy: flags.createdBy, signal });
      out.result(id, { silenceID: id });
    }),
  );
  withConnectionFlags(alerts.command('expire').description('Expire silences.').argument('<ids...>')).action(
    run(async (cluster, out, signal, ids) => {
      for (const id of ids) await cluster.alerts.expire(id, { signal });
      out.result(`expired ${ids.join(', ')}`, { expired: ids });
    }),
  );
  withConnectionFlags(
    alerts
      .command('silences')
      .description('List silences.')
      .option('-f, --filter <matcher...>', 'matchers the silences carry')
      .option('--all', 'also expired ones'),
  ).action(
    run<ConnectionFlags & { filter?: string[]; all?: boolean }>(async (cluster, out, signal, _args, flags) => {
      const list = await cluster.alerts.silences({ filter: flags.filter, ...(flags.all ? {} : { state: ['active', 'pending'] as const }), signal });
      const text =
        list.length === 0
          ? 'no silence'
          : table([
              ['ID', 'STATE', 'ENDS', 'CREATED BY', 'MATCHERS', 'COMMENT'],
              ...list.map((s) => [s.id, s.status.state, s.endsAt, s.createdBy, s.matchers.map((m) => `${m.name}${m.isRegex ? (m.isEqual === false ? '!~' : '=~') : m.isEqual === false ? '!=' : '='}${JSON.stringify(m.value)}`).join(','), s.comment]),
            ]);
      out.result(text, list);
    }),
  );

  withConnectionFlags(
    program
      .command('logs')
      .description("Container logs of a Solution's pods in an environment (through the API server), or from Loki with --loki.")
      .argument('<env>')
      .argument('<name>')
      .option('--component <name>', '"operator" or a component (default: every pod of the Solution)')
      .option('-c, --container <name>', 'only this container')
      .option('-f, --follow', 'keep printing lines as they come (Ctrl-C stops)')
      .option('--since <duration>', 'only lines newer than this (10m, 2h)')
      .addOption(numericOption('--tail <n>', 'only the last lines of each container', FLAG_RULES.lines))
      .option('-p, --previous', 'the previous (crashed) instance of each container')
      .option('--timestamps', 'print the runtime timestamps')
      .option('--no-prefix', 'do not prefix lines with pod/container')
      .option('--loki', 'read from Loki (fluent-bit labels) instead of the API server')
      .option('--grep <text...>', 'with --loki: lines containing each text'),
  ).action(
    run<ConnectionFlags & { component?: string; container?: string; follow?: boolean; since?: string; tail?: number; previous?: boolean; timestamps?: boolean; prefix: boolean; loki?: boolean; grep?: string[] }>(
      async (cluster, out, signal, [env = '', name = ''], flags) => {
        const print = (line: string, data: Record<string, unknown>): void => {
          if (out.json) out.event({ type: 'log', ...data });
          else process.stdout.write(`${line}\n`);
        };
        if (flags.loki) {
          for await (const e of cluster.logs.fromLoki(env, name, { component: flags.component, container: flags.container, contains: flags.grep, since: flags.since ?? '1h', signal })) {
            print(`${flags.timestamps ? `${e.time.toISOString()} ` : ''}${flags.prefix ? `[${e.labels.pod ?? '?'}/${e.labels.container ?? '?'}] ` : ''}${e.message}`, { ...e, time: e.time.toISOString() });
          }
          return;
        }
        const tail = flags.tail;
        try {
          for await (const l of cluster.logs.containers(env, name, { component: flags.component, container: flags.container, follow: flags.follow, since: flags.since, tail, previous: flags.previous, timestamps: flags.timestamps, signal })) {
            print(`${l.time ? `${l.time} ` : ''}${flags.prefix ? `[${l.pod}/${l.container}] ` : ''}${l.line}`, { ...l });
          }
        } catch (err) {
          // Ctrl-C ends a --follow: not an error.
          if (!(flags.follow && signal.aborted)) throw err;
        }
      },
    ),
  );

  withConnectionFlags(program.command('dashboards').description('Grafana dashboards loaded from labelled ConfigMaps and Secrets.').option('--solution <name>', 'only this Solution')).action(
    run<ConnectionFlags & { solution?: string }>(async (cluster, out, signal, _args, flags) => {
      const list = await cluster.dashboards.list({ solution: flags.solution, signal });
      const text =
        list.length === 0
          ? 'no dashboard'
          : table([
              ['FOLDER', 'TITLE', 'UID', 'SOLUTION', 'SOURCE'],
              ...list.map((d) => [d.folder ?? 'General', d.title ?? '?', d.uid ?? '-', d.solution ? `${d.solution.name} ${d.solution.version ?? ''}`.trim() : '-', `${d.source.kind} ${d.source.namespace}/${d.source.name}${d.problem ? ` (${d.problem})` : ''}`]),
            ]);
      out.result(text, list);
    }),
  );

  withConnectionFlags(program.command('health').description('One health report on a Solution in an environment.').argument('<env>').argument('<name>')).action(
    run(async (cluster, out, signal, [env = '', name = '']) => {
      const report = await cluster.health(name, env, { signal });
      out.result(healthText(report), report);
      if (report.status === 'unhealthy') process.exitCode = 2;
    }),
  );
}
