/**
 * `solution nodes list|declare|preflight|deploy|drain|cordon|uncordon|remove`: the node
 * lifecycle of `cluster.nodes`, with progress lines (a redrawn status line while waiting, on a
 * terminal) or `--json` event lines.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from '@commander-js/extra-typings';
import type { NodeProgressEvent, NodeRole, PreflightCheck } from '../../cluster/index.js';
import { ClusterError } from '../../errors.js';
import type { Output } from '../_output.js';
import { FLAG_RULES, numericOption } from '../_options.js';
import { ProgressDisplay } from '../_progress.js';
import { type ConnectionFlags, run, withConnectionFlags } from './cluster.js';

const ROLES: readonly NodeRole[] = ['control-plane', 'workload', 'infra'];

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

/** Prints node progress: lines per step, check and Pod; a status line while waiting. */
function reporter(out: Output): (e: NodeProgressEvent) => void {
  let bar: ProgressDisplay | undefined;
  const line = (text: string): void => {
    bar?.done();
    bar = undefined;
    out.info(text);
  };
  return (e) => {
    out.event({ ...e });
    switch (e.type) {
      case 'waiting':
        bar ??= new ProgressDisplay(out);
        bar.update({ phase: `waiting for ${e.what}`, detail: `${Math.round(e.elapsedMs / 1000)}s` });
        return;
      case 'deploy-step':
        line(`${e.result === false ? '✗' : '✓'} ${e.id}${e.result === false ? `: ${e.comment.split('\n')[0] ?? ''}` : ''}`);
        return;
      case 'salt-activity':
        if (e.status === 'started') line(`  … ${e.fun}${e.args.length ? ` ${e.args.join(' ')}` : ''}`);
        else if (e.status === 'failed') line(`  ✗ ${e.fun} failed on the node`);
        return;
      case 'salt-job':
        line(`${e.followed ? 'following' : 'started'} Salt job ${e.jid}`);
        return;
      case 'check':
        line(`${e.check.status.padEnd(4)} ${e.check.id}: ${e.check.evidence}`);
        return;
      case 'cordon':
        line(e.changed ? `cordoned ${e.node}` : `${e.node} was already cordoned`);
        return;
      case 'pod':
        if (e.status !== 'evicting' && e.status !== 'deleting') line(`  ${e.status} ${e.pod}${e.detail ? `: ${e.detail}` : ''}`);
        return;
      case 'warning':
        out.warn(e.message);
        return;
      case 'step':
        if (e.status !== 'started') line(`${e.status === 'skipped' ? '=' : '✓'} ${e.step}${e.detail ? ` (${e.detail})` : ''}`);
        return;
    }
  };
}

function printChecks(checks: readonly PreflightCheck[]): string {
  return table([['CHECK', 'STATUS', 'EVIDENCE'], ...checks.map((c) => [c.id, c.status, `${c.evidence}${c.hint && c.status !== 'pass' ? ` (${c.hint})` : ''}`])]);
}

/** Registers `solution nodes …`. */
export function registerNodesCommands(program: Command): void {
  const nodes = program.command('nodes').description('Node lifecycle: declare, preflight, deploy, drain, cordon, remove.');

  withConnectionFlags(nodes.command('list').description('Nodes with roles, version, readiness and deploy state.')).action(
    run(async (cluster, out, signal) => {
      const list = await cluster.nodes.list({ signal });
      const rows = [['NAME', 'ROLES', 'VERSION', 'READY', 'SCHEDULABLE', 'IP', 'DEPLOY']];
      for (const n of list) {
        const d = n.deploy;
        const deploy = d.state === 'failed' ? `failed at "${d.step}"` : d.state === 'deploying' ? `deploying${d.jid ? ` (job ${d.jid})` : ''}` : d.state;
        rows.push([n.name, n.roles.join(',') || '-', n.version ?? '-', n.ready ? 'yes' : 'no', n.schedulable ? 'yes' : 'no', n.addresses.InternalIP ?? '-', deploy]);
      }
      out.result(table(rows), list);
    }),
  );

  withConnectionFlags(
    nodes
      .command('declare')
      .description('Create the Node object of a new node, as MetalK8s\' UI does.')
      .argument('<name>', 'Node name (also its Salt minion id)')
      .requiredOption('-r, --role <role...>', `roles: ${ROLES.join(', ')}`)
      .requiredOption('--host <host>', 'host name or IP address the bootstrap node reaches it by')
      .addOption(numericOption('--port <port>', 'SSH port', FLAG_RULES.port).default(22))
      .option('--user <user>', 'SSH user', 'root')
      .option('--key-path <path>', 'SSH key path on the bootstrap node (default /etc/metalk8s/pki/salt-bootstrap)')
      .option('--sudo', 'run through sudo (needed unless the user is root)')
      .option('-l, --label <key=value...>', 'extra labels')
      .option('--display-name <name>', 'display name (label metalk8s.scality.com/name)'),
  ).action(
    run<ConnectionFlags & { role: string[]; host: string; port: number; user: string; keyPath?: string; sudo?: boolean; label?: string[]; displayName?: string }>(
      async (cluster, out, signal, [name = ''], f) => {
        for (const r of f.role) {
          if (!ROLES.includes(r as NodeRole)) throw new ClusterError('NODE_DECLARATION_INVALID', `roles: unknown role "${r}"`, { hint: `Roles are ${ROLES.join(', ')}.` });
        }
        const labels: Record<string, string> = {};
        for (const kv of f.label ?? []) {
          const i = kv.indexOf('=');
          if (i <= 0) throw new ClusterError('NODE_DECLARATION_INVALID', `--label ${kv}: expected key=value`, { hint: 'Write --label topology.kubernetes.io/zone=rack-1.' });
          labels[kv.slice(0, i)] = kv.slice(i + 1);
        }
        const r = await cluster.nodes.declare(name, {
          roles: f.role as NodeRole[],
          ssh: { host: f.host, port: f.port, user: f.user, keyPath: f.keyPath, sudo: f.sudo === true },
          labels,
          displayName: f.displayName,
          signal,
        });
        out.result(r.changed ? `declared ${name} (${r.node.roles.join(', ')})` : `${name} was already declared`, r);
      },
    ),
  );

  withConnectionFlags(
    nodes
      .command('preflight')
      .description('Check a declared node\'s host over SSH from here; exit code 1 when a check fails.')
      .argument('<name>')
      .option('--key <file>', 'private key to log in to the host with (default: --ssh-key)'),
  ).action(
    run<ConnectionFlags & { key?: string }>(async (cluster, out, signal, [name = ''], f) => {
      const keyFile = f.key ?? f.sshKey;
      const privateKey = keyFile ? await readFile(keyFile, 'utf8') : undefined;
      const r = await cluster.nodes.preflight(name, { ssh: { privateKey }, signal, onProgress: out.json ? reporter(out) : undefined });
      out.result(`${printChecks(r.checks)}\n${r.ok ? 'preflight passed' : 'preflight FAILED'}`, r);
      if (!r.ok) process.exitCode = 1;
    }),
  );

  withConnectionFlags(
    nodes
      .command('deploy')
      .description('Deploy a declared node (metalk8s.orchestrate.deploy_node); follows a deploy already running.')
      .argument('<name>')
      .option('--skip-draining', 'do not drain the node first')
      .addOption(numericOption('--drain-timeout <seconds>', 'drain timeout passed to deploy_node', FLAG_RULES.wholeSeconds)),
  ).action(
    run<ConnectionFlags & { skipDraining?: boolean; drainTimeout?: number }>(async (cluster, out, signal, [name = ''], f) => {
      const r = await cluster.nodes.deploy(name, { skipDraining: f.skipDraining, drainTimeoutSeconds: f.drainTimeout, signal, onProgress: reporter(out) });
      out.result(`${name} is deployed and Ready (Salt job ${r.jid}${r.followed ? ', followed' : ''})`, r);
    }),
  );

  withConnectionFlags(
    nodes
      .command('drain')
      .description('Drain a node with kubectl drain semantics (evictions, PodDisruptionBudgets honoured).')
      .argument('<name>')
      .option('--ignore-daemonsets', 'leave DaemonSet Pods')
      .option('--delete-emptydir-data', 'evict Pods with emptyDir data')
      .option('--force', 'evict Pods no controller will recreate')
      .addOption(numericOption('--grace-period <seconds>', 'seconds each Pod gets (default: its own)', FLAG_RULES.wholeSeconds))
      .addOption(numericOption('--timeout <seconds>', 'give up after this long (default: never)', FLAG_RULES.seconds))
      .option('--pod-selector <selector>', 'only Pods matching this label selector')
      .addOption(numericOption('--concurrency <n>', 'Pods evicted at once (default: all)', FLAG_RULES.count))
      .option('--disable-eviction', 'delete instead of evict (bypasses PodDisruptionBudgets)')
      .option('--dry-run', 'list what would be evicted'),
  ).action(
    run<
      ConnectionFlags & {
        ignoreDaemonsets?: boolean;
        deleteEmptydirData?: boolean;
        force?: boolean;
        gracePeriod?: number;
        timeout?: number;
        podSelector?: string;
        concurrency?: number;
        disableEviction?: boolean;
        dryRun?: boolean;
      }
    >(async (cluster, out, signal, [name = ''], f) => {
      const timeout = f.timeout;
      const r = await cluster.nodes.drain(name, {
        ignoreDaemonSets: f.ignoreDaemonsets,
        deleteEmptyDirData: f.deleteEmptydirData,
        force: f.force,
        gracePeriodSeconds: f.gracePeriod,
        timeoutMs: timeout === undefined ? undefined : timeout * 1000,
        podSelector: f.podSelector,
        concurrency: f.concurrency,
        disableEviction: f.disableEviction,
        dryRun: f.dryRun,
        signal,
        onProgress: reporter(out),
      });
      for (const w of r.warnings) out.warn(w);
      out.result(r.dryRun ? `would evict: ${r.evicted.join(', ') || 'nothing'}` : `drained ${name}: ${r.evicted.length} Pod(s) evicted, ${r.ignored.length} left on purpose`, r);
    }),
  );

  for (const verb of ['cordon', 'uncordon'] as const) {
    withConnectionFlags(nodes.command(verb).description(verb === 'cordon' ? 'Mark a node unschedulable.' : 'Mark a node schedulable again.').argument('<name>')).action(
      run(async (cluster, out, signal, [name = '']) => {
        const r = await cluster.nodes[verb](name, { signal });
        out.result(r.changed ? `${name} ${verb}ed` : `${name} was already ${verb}ed`, r);
      }),
    );
  }

  withConnectionFlags(
    nodes
      .command('remove')
      .description('Remove a node: drain, delete its Volumes, delete the Node and its Salt key.')
      .argument('<name>')
      .option('--etcd-member-removed', 'the node\'s etcd member was removed already (etcdctl member remove)')
      .option('--delete-claims', 'delete the PersistentVolumeClaims that still hold its Volumes (their data is lost with the node)')
      .addOption(numericOption('--volumes-timeout <seconds>', 'how long its Volumes may take to be deleted', FLAG_RULES.timeoutSeconds).default(600))
      .addOption(numericOption('--drain-timeout <seconds>', 'give up draining after this long', FLAG_RULES.seconds)),
  ).action(
    run<ConnectionFlags & { etcdMemberRemoved?: boolean; deleteClaims?: boolean; volumesTimeout: number; drainTimeout?: number }>(async (cluster, out, signal, [name = ''], f) => {
      const drainTimeout = f.drainTimeout;
      const r = await cluster.nodes.remove(name, {
        etcdMemberRemoved: f.etcdMemberRemoved,
        deleteClaims: f.deleteClaims,
        volumesTimeoutMs: f.volumesTimeout * 1000,
        drain: { ignoreDaemonSets: true, deleteEmptyDirData: true, ...(drainTimeout === undefined ? {} : { timeoutMs: drainTimeout * 1000 }) },
        signal,
        onProgress: reporter(out),
      });
      out.result(r.changed ? `removed ${name}` : `${name} was already removed`, r);
    }),
  );
}
