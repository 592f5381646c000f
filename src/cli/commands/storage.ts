/**
 * `solution disks` and `solution volumes plan|apply|list|delete`: the storage verbs of
 * `metalk8s-solution-sdk/storage` on the command line. Thin: flags in, tables or JSON out.
 */
import type { Command } from '@commander-js/extra-typings';
import type { Cluster } from '../../cluster/index.js';
import { loadSolutionFile } from '../../packaging/solution-file.js';
import { humanBytes } from '../../storage/quantity.js';
import {
  applyVolumePlan,
  deleteVolume,
  inventory,
  inventoryFromPrometheus,
  listVolumes,
  planVolumes,
  type VolumePlan,
  type VolumeSourceKind,
  wipeDevice,
} from '../../storage/index.js';
import { ClusterError } from '../../errors.js';
import { FLAG_RULES, numericOption } from '../_options.js';
import type { Output } from '../_output.js';
import { type ConnectionFlags, run, withConnectionFlags } from './cluster.js';

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

interface PlanFlags extends ConnectionFlags {
  allowSparse?: boolean;
  nodes?: string;
  source?: string[];
  claimNamespace?: string;
}

function sources(flags: PlanFlags): Record<string, VolumeSourceKind> {
  const out: Record<string, VolumeSourceKind> = {};
  const kinds: Record<string, VolumeSourceKind> = { raw: 'rawBlockDevice', lvm: 'lvmLogicalVolume', sparse: 'sparseLoopDevice' };
  for (const s of flags.source ?? []) {
    const [sc, kind = ''] = s.split('=');
    const k = kinds[kind];
    if (!sc || !k) throw new ClusterError('BAD_FLAG', `--source ${s}: expected <StorageClass>=raw|lvm|sparse`, { hint: 'For example --source zenko-kafka=lvm.' });
    out[sc] = k;
  }
  return out;
}

async function makePlan(cluster: Cluster, path: string, flags: PlanFlags, signal: AbortSignal): Promise<VolumePlan> {
  const { solution } = await loadSolutionFile(path);
  const nodes = flags.nodes ? flags.nodes.split(',').map((n) => n.trim()).filter((n) => n !== '') : undefined;
  const [inv, existing] = await Promise.all([inventory(cluster, { ...(nodes ? { nodes } : {}), signal }), listVolumes(cluster, { signal })]);
  return planVolumes({
    solution,
    inventory: inv,
    existing,
    options: {
      allowSparse: flags.allowSparse === true,
      sources: sources(flags),
      ...(flags.claimNamespace ? { claimRefNamespace: flags.claimNamespace } : {}),
    },
  });
}

function planText(plan: VolumePlan): string {
  const lines: string[] = [];
  if (plan.volumes.length > 0) {
    const rows = [['NEED', 'VOLUME', 'NODE', 'DEVICE', 'SIZE', 'STORAGECLASS', 'ACTION']];
    for (const v of plan.volumes) {
      const where = v.device?.path ?? (v.vgName ? `lvm:${v.vgName}` : v.source === 'sparseLoopDevice' ? 'sparse file' : '-');
      rows.push([`${v.component}.${v.need}`, v.name, v.node, where, v.capacityBytes === undefined ? '-' : humanBytes(v.capacityBytes), v.storageClass, v.action]);
    }
    lines.push(table(rows));
  }
  for (const u of plan.unsatisfied) {
    lines.push('', `cannot satisfy ${u.message}`);
    for (const n of u.nodes) {
      if (n.refused) lines.push(`  ${n.node}: ${n.refused}`);
      for (const d of [...n.devices, ...n.volumeGroups]) lines.push(`  ${n.node} ${d.path} (${humanBytes(d.size)}): ${d.reasons.map((r) => r.message).join('; ')}`);
      if (!n.refused && n.devices.length === 0 && n.volumeGroups.length === 0) lines.push(`  ${n.node}: no device at all`);
    }
  }
  if (plan.refusedDevices.length > 0) {
    lines.push('', 'refused devices:');
    for (const d of plan.refusedDevices) lines.push(`  ${d.node} ${d.path} (${humanBytes(d.size)}): ${d.reasons.map((r) => r.message).join('; ')}`);
  }
  for (const n of plan.notes) lines.push(`note: ${n.message}`);
  const creates = plan.volumes.filter((v) => v.action === 'create').length;
  lines.push('', plan.ok ? `${creates} Volume(s) to create, ${plan.volumes.length - creates} kept` : `${plan.unsatisfied.length} need(s) cannot be satisfied`);
  return lines.join('\n').replace(/^\n/, '');
}

function withPlanFlags<T extends Command<unknown[], Record<string, unknown>>>(cmd: T): T {
  cmd
    .option('--nodes <a,b,c>', 'plan on these nodes only (default: every node)')
    .option('--allow-sparse', 'use sparse files where no device fits (trials only)')
    .option('--source <class=kind...>', 'source per StorageClass: raw (default), lvm or sparse')
    .option('--claim-namespace <ns>', 'pre-bind replicas to their StatefulSet claims in this namespace');
  return cmd;
}

function report(out: Output) {
  return (e: { type: string; name?: string; status?: string; detail?: string | undefined; nodes?: readonly string[] }) => {
    out.event({ ...e });
    if (e.type === 'probed') out.info(`re-probed ${e.nodes?.join(', ')}`);
    else if (e.status === 'pending') out.info(`  ${e.name}: pending${e.detail ? ` (${e.detail})` : ''}`);
    else out.info(`${e.status === 'available' ? '✓' : e.status === 'failed' || e.status === 'stuck' ? '✗' : '·'} ${e.name}: ${e.status}${e.detail ? ` (${e.detail})` : ''}`);
  };
}

/** Registers `disks` and `volumes`. */
export function registerStorageCommands(program: Command): void {
  const disks = withConnectionFlags(
    program
      .command('disks')
      .description('Every block device of the nodes, eligible for a Volume or with the reasons it is not.')
      .argument('[node]', 'only this node (with --prometheus-url: read-only, names, models and signatures from node-exporter, no sizes)'),
  );
  disks.action(
    run(async (cluster, out, signal, [node = ''], flags) => {
      const all = flags.prometheusUrl
        ? await inventoryFromPrometheus({ url: flags.prometheusUrl, signal })
        : await inventory(cluster, { ...(node ? { nodes: [node] } : {}), signal });
      const inv = node ? { nodes: all.nodes.filter((n) => n.name === node) } : all;
      const rows = [['NODE', 'DEVICE', 'SIZE', 'TYPE', 'MEDIA', 'MODEL', 'STATUS']];
      for (const n of inv.nodes) {
        if (n.probeError) rows.push([n.name, '-', '-', '-', '-', '-', `not read: ${n.probeError}`]);
        for (const d of n.devices) {
          const status = d.eligible ? `eligible${d.warnings.length ? ` (${d.warnings.map((w) => w.message).join('; ')})` : ''}` : d.deniedReasons.map((r) => r.message).join('; ');
          rows.push([n.name, d.stablePath, d.size > 0 ? humanBytes(d.size) : '?', d.type, d.rotational === undefined ? '?' : d.rotational ? 'hdd' : 'ssd', d.model ?? '-', status]);
        }
        for (const vg of n.volumeGroups) rows.push([n.name, `lvm:${vg.name}`, humanBytes(vg.size), 'vg', '-', '-', `${humanBytes(vg.free)} free`]);
      }
      out.result(table(rows), inv);
    }),
  );
  withConnectionFlags(
    disks
      .command('wipe')
      .description('Erase the signatures (filesystem, partition table) of a device, so a Volume can use it again.')
      .argument('<node>')
      .argument('<device>')
      .requiredOption('--confirm <device>', 'repeat the device path: its data is destroyed'),
  ).action(
    run<ConnectionFlags & { confirm?: string }>(async (cluster, out, signal, [node = '', device = ''], flags) => {
      const r = await wipeDevice(cluster, { node, device, confirm: flags.confirm ?? '', signal });
      out.result(r.removed.length > 0 ? `wiped ${node}:${device} (removed ${r.removed.join(', ')})` : `${node}:${device} had no signature`, r);
    }),
  );

  const volumes = program.command('volumes').description('MetalK8s Volumes: plan them from the solution\'s needs, apply, list, delete.');
  withConnectionFlags(withPlanFlags(volumes.command('plan').description('Plan the Volumes the solution needs on this cluster (exit 1 when it cannot).').argument('[path]', 'solution file or directory', '.'))).action(
    run<PlanFlags>(async (cluster, out, signal, [path = '.'], flags) => {
      const plan = await makePlan(cluster, path, flags, signal);
      out.result(planText(plan), plan);
      if (!plan.ok) process.exitCode = 1;
    }),
  );
  withConnectionFlags(
    withPlanFlags(
      volumes
        .command('apply')
        .description('Plan, then create the Volumes and wait until each is Available (or say why not).')
        .argument('[path]', 'solution file or directory', '.')
        .option('--dangerous', 'allow formatting raw block devices (their data is lost)')
        .addOption(numericOption('--timeout <seconds>', 'give up on a Volume after this long', FLAG_RULES.timeoutSeconds).default(600)),
    ),
  ).action(
    run<PlanFlags & { dangerous?: boolean; timeout?: number }>(async (cluster, out, signal, [path = '.'], flags) => {
      const plan = await makePlan(cluster, path, flags, signal);
      if (!plan.ok) {
        out.result(planText(plan), plan);
        process.exitCode = 1;
        return;
      }
      out.info(planText(plan));
      const result = await applyVolumePlan(cluster, plan, { dangerous: flags.dangerous === true, timeoutMs: (flags.timeout ?? 600) * 1000, signal, onProgress: report(out) });
      const failed = result.volumes.filter((v) => v.outcome !== 'available');
      out.result(
        result.ok ? `${result.volumes.length} Volume(s) available` : failed.map((v) => `${v.name} ${v.outcome}: ${v.reason ? `${v.reason}: ` : ''}${v.message ?? ''}`).join('\n'),
        result,
      );
      if (!result.ok) process.exitCode = 1;
    }),
  );
  withConnectionFlags(volumes.command('list').description('The Volumes, with their phase and claim.').option('--node <node>', 'only this node')).action(
    run<ConnectionFlags & { node?: string }>(async (cluster, out, signal, _args, flags) => {
      const list = await listVolumes(cluster, { ...(flags.node ? { node: flags.node } : {}), signal });
      const rows = [['NAME', 'NODE', 'STORAGECLASS', 'SOURCE', 'SIZE', 'PHASE', 'CLAIM']];
      for (const v of list) {
        const source = v.devicePath ?? (v.vgName ? `lvm:${v.vgName}` : v.source === 'sparseLoopDevice' ? 'sparse' : '-');
        const phase = v.phase === 'Failed' ? `Failed (${v.reason}: ${v.message ?? ''})` : v.phase || 'no status';
        rows.push([v.name, v.node, v.storageClass, source, v.pv?.capacity ?? (v.sizeBytes ? humanBytes(v.sizeBytes) : '-'), phase, v.pv?.claim ?? '-']);
      }
      out.result(table(rows), list);
    }),
  );
  withConnectionFlags(volumes.command('delete').description('Delete a Volume (refused while a PVC uses it) and wait until its storage is reclaimed.').argument('<name>')).action(
    run(async (cluster, out, signal, [name = '']) => {
      await deleteVolume(cluster, name, { signal });
      out.result(`deleted ${name} (the device keeps its filesystem: \`solution disks wipe\` erases it)`, { deleted: name });
    }),
  );
}
