import type { Command } from '@commander-js/extra-typings';
import { AppsV1Api } from '@kubernetes/client-node';
import type { Cluster, LifecycleProgressEvent } from '../../cluster/index.js';
import { type ConnectionFlags, connectFrom, withConnectionFlags } from '../_connection.js';
import { action, Output, withInterrupt } from '../_output.js';
import { ProgressDisplay } from '../_progress.js';

export { type ConnectionFlags, connectFrom, servicesFrom, withConnectionFlags } from '../_connection.js';

/** Prints lifecycle progress: plain lines, or JSON events with --json. */
function reporter(out: Output): (e: LifecycleProgressEvent) => void {
  let bar: ProgressDisplay | undefined;
  return (e) => {
    out.event({ ...e });
    if (e.type === 'upload') {
      bar ??= new ProgressDisplay(out);
      bar.update({ phase: 'uploading ISO', done: e.bytes, total: e.total });
      if (e.bytes >= e.total) {
        bar.done();
        bar = undefined;
      }
      return;
    }
    if (e.type === 'warning') out.warn(e.message);
    else if (e.type === 'step' && e.status !== 'started') out.info(`${e.status === 'skipped' ? '=' : '✓'} ${e.step}${e.detail ? ` (${e.detail})` : ''}`);
    else if (e.type === 'salt-job') out.info(`  ${e.step}: Salt job ${e.jid}`);
  };
}

/** A command body, given a connected cluster (or what `connector` gives). */
export type Handler<F, C = Cluster> = (cluster: C, out: Output, signal: AbortSignal, args: readonly string[], flags: F) => Promise<void>;

/**
 * Wraps a command body: connects, handles Ctrl-C and errors. Commander calls actions with the
 * positional arguments, then the options, then the command.
 */
export function run<F extends ConnectionFlags = ConnectionFlags, C = Cluster>(
  fn: Handler<F, C>,
  connector: (flags: F, signal: AbortSignal) => Promise<C> = connectFrom as unknown as (flags: F, signal: AbortSignal) => Promise<C>,
): (...raw: unknown[]) => Promise<void> {
  const split = (raw: unknown[]): { args: string[]; flags: F } => {
    const flags = (raw[raw.length - 2] ?? {}) as F;
    // A variadic argument (an array) is spread: its values follow the fixed arguments.
    return { args: raw.slice(0, -2).flatMap((a) => (Array.isArray(a) ? a.map(String) : [String(a ?? '')])), flags };
  };
  return action(
    async (...raw: unknown[]) => {
      const { args, flags } = split(raw);
      const out = new Output(flags);
      await withInterrupt(async (signal) => fn(await connector(flags, signal), out, signal, args, flags));
    },
    (...raw: unknown[]) => new Output(split(raw).flags),
  );
}

/** `solution import|activate|deactivate|remove|status` and `solution env …`. */
export function registerClusterCommands(program: Command): void {
  withConnectionFlags(
    program
      .command('import')
      .description('Import a Solution ISO into the MetalK8s cluster.')
      .argument('<iso>', 'the ISO (a path on the bootstrap node, or a local one with --upload)')
      .option('--upload', 'copy the ISO to the bootstrap node over SFTP first (--ssh-host, --ssh-key)')
      .option('--remote-dir <dir>', 'where --upload puts the ISO on the bootstrap node'),
  ).action(
    run<ConnectionFlags & { upload?: boolean; remoteDir?: string }>(async (cluster, out, signal, [iso = ''], flags) => {
      const upload = flags.upload ? { remoteDir: flags.remoteDir } : false;
      const r = await cluster.solutions.import(iso, { upload, signal, onProgress: reporter(out) });
      out.result(r.changed ? `imported ${r.id} from ${r.archive}` : `${r.id} was already imported from ${r.archive}`, r);
    }),
  );
  withConnectionFlags(program.command('activate').description('Activate a version of a Solution (its CRDs and platform objects).').argument('<name>').argument('[version]', 'a version, or latest', 'latest')).action(
    run(async (cluster, out, signal, [name = '', version = 'latest']) => {
      const r = await cluster.solutions.activate(name, { version, signal, onProgress: reporter(out) });
      out.result(r.changed ? `${name} ${r.version} is active` : `${name} ${r.version} was already active`, r);
    }),
  );
  withConnectionFlags(program.command('deactivate').description('Deactivate a Solution: deletes its CRDs, and every custom resource of those kinds.').argument('<name>')).action(
    run(async (cluster, out, signal, [name = '']) => {
      const r = await cluster.solutions.deactivate(name, { signal, onProgress: reporter(out) });
      out.result(r.changed ? `${name} is deactivated` : `${name} was not active`, r);
    }),
  );
  withConnectionFlags(program.command('remove').description('Remove an imported Solution ISO (refused while active or in use).').argument('<iso>')).action(
    run(async (cluster, out, signal, [iso = '']) => {
      const r = await cluster.solutions.remove(iso, { signal, onProgress: reporter(out) });
      out.result(r.changed ? `removed ${r.id}` : `${iso} was not imported`, r);
    }),
  );
  withConnectionFlags(program.command('status').description('Solutions, versions, environments and operator health.')).action(
    run(async (cluster, out, signal) => {
      const solutions = await cluster.solutions.list({ signal });
      const envs = await cluster.environments.list({ signal });
      const rows: string[][] = [['SOLUTION', 'VERSION', 'ACTIVE', 'ENVIRONMENTS', 'OPERATORS', 'HEALTH']];
      // One health report per Solution and environment (`solution health ENV NAME` gives the detail).
      const reports: Record<string, string> = {};
      for (const e of envs) {
        for (const [sol, ver] of Object.entries(e.solutions)) {
          reports[`${sol}-${ver}/${e.name}`] = await cluster
            .health(sol, e.name, { signal })
            .then((r) => r.status)
            .catch(() => 'unknown');
        }
      }
      const health: Record<string, string> = {};
      for (const e of envs) {
        for (const [sol, ver] of Object.entries(e.solutions)) {
          for (const ns of e.namespaces) {
            const dep = await cluster.kubeConfig
              .makeApiClient(AppsV1Api)
              .readNamespacedDeployment({ name: `${sol}-operator`, namespace: ns })
              .catch(() => undefined);
            const ok = dep?.status?.conditions?.some((c) => c.type === 'Available' && c.status === 'True');
            health[`${sol}-${ver}/${ns}`] = dep ? (ok ? 'Available' : 'NotAvailable') : 'Missing';
          }
        }
      }
      for (const s of solutions) {
        for (const v of s.versions) {
          const ops = Object.entries(health)
            .filter(([k]) => k.startsWith(`${v.id}/`))
            .map(([k, h]) => `${k.slice(v.id.length + 1)}:${h}`);
          const healths = Object.entries(reports)
            .filter(([k]) => k.startsWith(`${v.id}/`))
            .map(([k, h]) => `${k.slice(v.id.length + 1)}:${h}`);
          rows.push([s.name, v.version, v.active ? 'yes' : '', v.environments.join(',') || '-', ops.join(',') || '-', healths.join(',') || '-']);
        }
      }
      const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
      const text = rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
      out.result(text, { solutions, environments: envs, operators: health, health: reports });
    }),
  );

  const env = program.command('env').description('Environments: namespaces where Solutions run.');
  withConnectionFlags(env.command('create').argument('<env>').option('-d, --description <text>', 'description').option('-n, --namespace <ns...>', 'namespaces (default: the environment name)')).action(
    run<ConnectionFlags & { description?: string; namespace?: string[] }>(async (cluster, out, signal, [name = ''], flags) => {
      const r = await cluster.environments.create(name, { description: flags.description, namespaces: flags.namespace, signal, onProgress: reporter(out) });
      out.result(`environment ${r.name}: ${r.namespaces.join(', ')}`, r);
    }),
  );
  withConnectionFlags(env.command('list')).action(
    run(async (cluster, out, signal) => {
      const envs = await cluster.environments.list({ signal });
      const text = envs.map((e) => `${e.name}\t${e.namespaces.join(',')}\t${Object.entries(e.solutions).map(([s, v]) => `${s}=${v}`).join(',') || '-'}\t${e.description ?? ''}`).join('\n');
      out.result(text || 'no environment', envs);
    }),
  );
  withConnectionFlags(env.command('delete').argument('<env>')).action(
    run(async (cluster, out, signal, [name = '']) => {
      const r = await cluster.environments.delete(name, { signal, onProgress: reporter(out) });
      out.result(r.namespaces.length > 0 ? `deleting namespaces ${r.namespaces.join(', ')}` : `environment ${name} does not exist`, r);
    }),
  );
  for (const verb of ['add', 'upgrade'] as const) {
    withConnectionFlags(env.command(verb).argument('<env>').argument('<name>').argument('<version>').option('-w, --webhook', 'mount the webhook certificate Secret <name>-cert')).action(
      run<ConnectionFlags & { webhook?: boolean }>(async (cluster, out, signal, [e = '', name = '', version = ''], flags) => {
        const opts = { name, version, webhook: flags.webhook === true, signal, onProgress: reporter(out) };
        const r = verb === 'add' ? await cluster.environments.addSolution(e, opts) : await cluster.environments.upgradeSolution(e, opts);
        out.result(r.changed ? `${name} ${version} runs in ${e}` : `${name} ${version} already ran in ${e}`, r);
      }),
    );
  }
  withConnectionFlags(env.command('remove').argument('<env>').argument('<name>')).action(
    run(async (cluster, out, signal, [e = '', name = '']) => {
      const r = await cluster.environments.removeSolution(e, { name, signal, onProgress: reporter(out) });
      out.result(r.changed ? `${name} removed from ${e}` : `${name} was not in ${e}`, r);
    }),
  );
}
