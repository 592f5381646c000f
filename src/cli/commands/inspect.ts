import { readFile } from 'node:fs/promises';
import type { Command } from '@commander-js/extra-typings';
import { PackagingError } from '../../errors.js';
import { type Change, CHANGE_CATEGORIES, type ChangeCategory, diff } from '../../packaging/diff.js';
import { inspect } from '../../packaging/inspect.js';
import { verify } from '../../packaging/verify.js';
import { action, formatIssues, Output, withInterrupt } from '../_output.js';
import { formatBytes, ProgressDisplay } from '../_progress.js';

interface JsonOpts {
  json?: boolean;
  quiet?: boolean;
}

const CATEGORY_TITLES: Record<ChangeCategory, string> = {
  manifest: 'Solution',
  image: 'Images',
  crd: 'CRDs',
  permission: 'Operator permissions',
  storageclass: 'StorageClasses',
  alert: 'Alerts',
  dashboard: 'Dashboards',
  monitor: 'Monitors',
  other: 'Other platform objects',
};

/** Exit code of `solution diff --fail-on-breaking` when a breaking change is found. */
export const EXIT_BREAKING = 3;

function formatChanges(changes: readonly Change[]): string {
  const lines: string[] = [];
  for (const cat of CHANGE_CATEGORIES) {
    const list = changes.filter((c) => c.category === cat);
    if (list.length === 0) continue;
    lines.push(`${CATEGORY_TITLES[cat]}`);
    for (const c of list) {
      const mark = c.breaking ? 'BREAKING' : c.action === 'added' ? '+' : c.action === 'removed' ? '-' : '~';
      lines.push(`  ${mark.padEnd(9)} ${c.message}`);
    }
  }
  return lines.join('\n');
}

/** `solution inspect`, `solution verify`, `solution diff`. */
export function registerInspectCommands(program: Command): void {
  program
    .command('inspect')
    .description('Show what a solution ISO holds: manifest, images with sizes and digests, CRDs, roles, platform objects.')
    .argument('<iso>', 'the solution ISO')
    .option('--json', 'print the result as JSON')
    .action(
      action(
        async (iso: string, opts: JsonOpts) => {
          const out = new Output(opts);
          const r = await withInterrupt((signal) => inspect({ path: iso, signal }));
          const s = r.solution;
          const lines = [
            `${r.path}`,
            `  solution   ${s.displayName ?? s.name} (${s.name}) ${s.version}${r.build ? `, built ${r.build.timestamp} by SDK ${r.build.sdkVersion}` : ', not built by the SDK'}`,
            `  volume id  ${r.volumeId}`,
            `  operator   ${s.operatorImage ?? '(default)'}`,
            `  size       ${formatBytes(r.size)}; images ${formatBytes(r.sizes.images)}, ${formatBytes(r.sizes.imagesDeduplicated)} stored (shared layers stored once)`,
            `Images (${r.images.length})`,
            ...r.images.map((i) => `  ${`${i.name}:${i.tag}`.padEnd(32)} ${formatBytes(i.size).padStart(10)}  ${i.layers.length} layer(s)  ${i.platform ?? '?'}  ${i.manifestDigest ?? ''}`),
            `CRDs (${r.crds.length})`,
            ...r.crds.map((c) => `  ${c.name.padEnd(40)} ${c.kind} (${c.scope}) ${c.versions.join(', ')}`),
            `Operator roles (${r.roles.length})`,
            ...r.roles.map((o) => `  ${o.kind.padEnd(12)} ${o.name}  ${o.rules ?? 0} rule(s)`),
            `Platform objects (${r.platform.length})`,
            ...r.platform.map((o) => `  ${o.kind.padEnd(16)} ${o.namespace ? `${o.namespace}/` : ''}${o.name}${o.rules !== undefined ? `  ${o.rules} alert(s)` : ''}`),
          ];
          out.result(lines.join('\n'), r);
        },
        (_i, opts) => new Output(opts),
      ),
    );

  program
    .command('verify')
    .description('Check a solution ISO: SHA256SUM, signature, every file and blob digest, and MetalK8s compatibility. Exits 1 on any error.')
    .argument('<iso>', 'the solution ISO')
    .option('--key <pub.pem>', 'Ed25519 public key the ISO must be signed with (<iso>.sig)')
    .option('--signature <file>', 'signature file (default: <iso>.sig)')
    .option('--checksum-file <file>', 'SHA256SUM file (default: SHA256SUM beside the ISO)')
    .option('--strict', 'exit 1 on warnings too (no SHA256SUM, unchecked signature, no SDK index, ignored files)')
    .option('--json', 'print the result as JSON')
    .option('-q, --quiet', 'print problems only (on stderr)')
    .action(
      action(
        async (iso: string, opts: JsonOpts & { key?: string; signature?: string; checksumFile?: string; strict?: boolean }) => {
          const out = new Output(opts);
          let publicKey: string | undefined;
          if (opts.key) {
            try {
              publicKey = await readFile(opts.key, 'utf8');
            } catch (err) {
              throw new PackagingError('VERIFY_KEY_UNREADABLE', `cannot read the public key ${opts.key}`, { hint: 'Give the path of an Ed25519 public key in PEM format.', cause: err });
            }
          }
          const progress = new ProgressDisplay(out, { quiet: opts.quiet || !process.stderr.isTTY });
          const r = await withInterrupt((signal) =>
            verify({
              path: iso,
              publicKey,
              signaturePath: opts.signature,
              checksumPath: opts.checksumFile,
              signal,
              onProgress: (e) => {
                if (e.type === 'read') progress.update({ phase: 'reading', done: e.bytesRead, total: e.bytesTotal });
              },
            }),
          );
          progress.done();
          const errors = r.issues.filter((i) => i.severity === 'error').length;
          const warnings = r.issues.length - errors;
          const failed = !r.ok || (opts.strict === true && warnings > 0);
          const head = failed ? `FAILED ${r.path}: ${errors} error(s)` : `OK ${r.path}`;
          const lines = [
            `${head}${warnings > 0 ? `, ${warnings} warning(s)` : ''}`,
            ...(opts.quiet
              ? []
              : [
                  `  solution   ${r.solution ? `${r.solution.name} ${r.solution.version}` : '?'}`,
                  `  sha256     ${r.sha256}`,
                  `  checksum   ${r.checksum}`,
                  `  signature  ${r.signature}`,
                  `  files      ${r.filesChecked} checked${r.indexed ? ' against /sdk/index.json' : ''}, ${r.blobsChecked} blob digest(s)`,
                ]),
            ...(r.issues.length > 0 ? [formatIssues(r.issues)] : []),
          ];
          if (opts.quiet && !opts.json) {
            if (failed || r.issues.length > 0) out.problems(lines.join('\n'));
          } else out.result(lines.join('\n'), r);
          if (failed) process.exitCode = 1;
        },
        (_i, opts) => new Output(opts),
      ),
    );

  program
    .command('diff')
    .description('Show what changed between two versions of a solution ISO; BREAKING marks what may break an upgrade.')
    .argument('<old>', 'the ISO installed today')
    .argument('<new>', 'the ISO to ship')
    .option('--json', 'print the result as JSON')
    .option('--fail-on-breaking', `exit with code ${EXIT_BREAKING} when a breaking change is found`)
    .action(
      action(
        async (oldIso: string, newIso: string, opts: JsonOpts & { failOnBreaking?: boolean }) => {
          const out = new Output(opts);
          const r = await withInterrupt((signal) => diff({ oldPath: oldIso, newPath: newIso, signal }));
          const title = `${r.old.name} ${r.old.version} → ${r.new.name} ${r.new.version}: ${r.changes.length} change(s), ${r.breaking} breaking`;
          out.result(r.changes.length > 0 ? `${title}\n${formatChanges(r.changes)}` : `${title}\n  no change`, r);
          if (opts.failOnBreaking && r.breaking > 0) process.exitCode = EXIT_BREAKING;
        },
        (_o, _n, opts) => new Output(opts),
      ),
    );
}
