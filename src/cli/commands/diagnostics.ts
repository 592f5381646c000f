/**
 * `solution support-bundle`, `solution doctor`, `solution preflight`: diagnostics from the
 * command line. The SaltAPI is optional here: without credentials the bundle and doctor work
 * from the Kubernetes API alone, and say what they could not collect.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from '@commander-js/extra-typings';
import { type AlertsApi, type Analyzer, alertmanagerSource, connect, connectPlatform, type DiagnosticsTarget, type DoctorFinding, doctor, type SolutionPreflightCheck, preflight, saltApiFromEnv, supportBundle } from '../../cluster/index.js';
import { parseSince } from '../../cluster/diagnostics-snapshot.js';
import { SALT_API_ENV } from '../../cluster/salt-api-env.js';
import { SdkError } from '../../errors.js';
import { loadSolutionFile } from '../../packaging/solution-file.js';
import { FLAG_RULES, numericOption } from '../_options.js';
import { action, Output, withInterrupt } from '../_output.js';
import { ProgressDisplay } from '../_progress.js';
import { type ConnectionFlags, servicesFrom, withConnectionFlags } from './cluster.js';

interface Flags extends ConnectionFlags {
  registryUrl?: string;
  env?: string;
}

function withFlags<T extends Command<unknown[], Record<string, unknown>>>(cmd: T): T {
  withConnectionFlags(cmd)
    .option('--registry-url <url>', 'cluster registry (default: $METALK8S_REGISTRY_URL, else the bootstrap node on port 8080)')
    .option('--env <env>', 'one environment (default: all)');
  return cmd;
}

/** Connects with SaltAPI when credentials are there, else with the Kubernetes API only. */
export async function diagnosticsTarget(flags: Flags, out: Output, signal: AbortSignal): Promise<DiagnosticsTarget & { readonly alerts: AlertsApi }> {
  const env = saltApiFromEnv(process.env);
  const username = flags.saltApiUsername ?? env?.username;
  const token = flags.saltApiToken ?? env?.token;
  const caFile = flags.saltApiCaFile ?? env?.caFile;
  if (username && token) {
    try {
      return await connect({
        ...(flags.kubeconfig ? { kubeconfigPath: flags.kubeconfig } : {}),
        services: servicesFrom(flags),
        saltApi: { url: flags.saltApiUrl ?? env?.url, username, token, ca: caFile ? await readFile(caFile, 'utf8') : undefined },
        signal,
      });
    } catch (err) {
      out.warn(`SaltAPI not used (${err instanceof Error ? err.message : String(err)}): Salt jobs are not collected`);
    }
  } else out.warn(`no SaltAPI credentials (${SALT_API_ENV.username}, ${SALT_API_ENV.token}): Salt jobs are not collected`);
  return connectPlatform({ ...(flags.kubeconfig ? { kubeconfigPath: flags.kubeconfig } : {}), services: servicesFrom(flags) });
}

async function loadAnalyzers(file: string): Promise<Analyzer[]> {
  const path = resolve(file);
  const { createJiti } = await import('jiti');
  const jiti = createJiti(pathToFileURL(path).href, { tryNative: true, moduleCache: false, fsCache: false });
  const mod = (await jiti.import(path).catch((cause: unknown) => {
    throw new SdkError('ANALYZERS_LOAD_FAILED', `cannot load the analyzers of ${file}: ${cause instanceof Error ? cause.message.split('\n')[0] : String(cause)}`, {
      hint: 'Give a .ts or .js module that exports `analyzers`; run it with node or tsc to see the error in context.',
      cause,
    });
  })) as { default?: unknown; analyzers?: unknown };
  const list = mod.analyzers ?? mod.default;
  const arr = Array.isArray(list) ? list : list ? [list] : [];
  if (arr.length === 0 || !arr.every((a) => typeof a === 'object' && a !== null && typeof (a as Analyzer).name === 'string' && typeof (a as Analyzer).run === 'function')) {
    throw new SdkError('ANALYZERS_INVALID', `${file} exports no analyzers`, {
      hint: 'Export `analyzers` (or a default) as an array of defineAnalyzer({ name, run(snapshot) { return findings } }).',
    });
  }
  return arr as Analyzer[];
}

const ICON = { critical: '✗', warning: '!', info: 'i' } as const;

function formatFinding(f: DoctorFinding): string {
  return [`${ICON[f.severity]} ${f.severity.toUpperCase()} ${f.title}  [${f.code}, ${f.analyzer}]`, ...f.evidence.map((e) => `    ${e}`), `    → ${f.remedy}`].join('\n');
}

const MARK = { pass: '✓', warn: '!', fail: '✗' } as const;

function formatCheck(c: SolutionPreflightCheck): string {
  return [`${MARK[c.status]} ${c.status.toUpperCase().padEnd(4)} ${c.name}: ${c.message}`, ...c.evidence.map((e) => `    ${e}`)].join('\n');
}

/** `solution support-bundle`, `solution doctor` and `solution preflight`. */
export function registerDiagnosticsCommands(program: Command): void {
  withFlags(
    program
      .command('support-bundle')
      .description('Collect a redacted support bundle (.tar.gz) of the cluster as it concerns Solutions; Secrets are never read.')
      .requiredOption('-o, --output <file>', 'bundle to write')
      .option('--since <duration>', 'events, logs and Salt jobs newer than this (30m, 24h, 7d)', '24h')
      .addOption(numericOption('--max-size <MiB>', 'largest uncompressed size; logs are dropped beyond it', FLAG_RULES.mebibytes).default(256)),
  ).action(
    action(
      async (flags: Flags & { output: string; since: string; maxSize: number }) => {
        const out = new Output(flags);
        await withInterrupt(async (signal) => {
          parseSince(flags.since);
          const target = await diagnosticsTarget(flags, out, signal);
          const bar = process.stderr.isTTY && !flags.json && !flags.quiet ? new ProgressDisplay(out) : undefined;
          const r = await supportBundle(target, {
            output: flags.output,
            env: flags.env,
            since: flags.since,
            maxBytes: flags.maxSize * 1024 * 1024,
            registryUrl: flags.registryUrl ?? process.env.METALK8S_REGISTRY_URL,
            alerts: alertmanagerSource(target.alerts),
            signal,
            onProgress: (e) => {
              out.event({ ...e });
              if (e.type === 'collect') {
                if (bar) bar.update({ phase: `collecting ${e.what}`, done: e.done, total: e.total, unit: 'items' });
                else if (e.what !== 'done') out.info(`collecting ${e.what}`);
              }
            },
          });
          bar?.done();
          for (const p of r.index.problems) out.warn(`${p.collector}: ${p.message}`);
          out.result(
            `wrote ${r.path} (${(r.bytes / 1024).toFixed(0)} KiB, ${r.index.files.length} files, ${r.index.redactions} values redacted, ${r.index.problems.length} collection problems)`,
            { path: r.path, bytes: r.bytes, sha256: r.sha256, redactions: r.redactions, problems: r.index.problems, omitted: r.index.omitted },
          );
        });
      },
      (flags: Flags) => new Output(flags),
    ),
  );
  withFlags(
    program
      .command('doctor')
      .description('Diagnose the cluster, or a support bundle: each finding with its evidence and what to do. Exit code 1 on a critical finding.')
      .option('--bundle <file>', 'analyze this support bundle instead of the cluster')
      .option('--analyzers <file>', "the vendor's own analyzers (a .ts/.js module exporting `analyzers`)")
      .option('--since <duration>', 'events, logs and Salt jobs newer than this', '24h'),
  ).action(
    action(
      async (flags: Flags & { bundle?: string; analyzers?: string; since: string }) => {
        const out = new Output(flags);
        await withInterrupt(async (signal) => {
          if (!flags.bundle) parseSince(flags.since);
          const analyzers = flags.analyzers ? await loadAnalyzers(flags.analyzers) : [];
          const r = flags.bundle
            ? await doctor({ bundle: flags.bundle, analyzers, signal })
            : await doctor({
                ...(await diagnosticsTarget(flags, out, signal).then((target) => ({ target, alerts: alertmanagerSource(target.alerts) }))),
                env: flags.env,
                since: flags.since,
                registryUrl: flags.registryUrl ?? process.env.METALK8S_REGISTRY_URL,
                analyzers,
                signal,
              });
          const text = r.findings.length === 0 ? `no problem found (${r.analyzers.length} analyzers, ${r.source} collected ${r.collectedAt})` : r.findings.map(formatFinding).join('\n');
          for (const p of r.problems) out.warn(`not collected: ${p.collector}: ${p.message}`);
          out.result(text, r);
          if (!r.healthy) process.exitCode = 1;
        });
      },
      (flags: Flags) => new Output(flags),
    ),
  );
  withFlags(
    program
      .command('preflight')
      .description('Check a Solution ISO against the cluster before importing it. Exit code 1 when a check fails.')
      .argument('<iso>', 'the Solution ISO')
      .option('--solution <file>', 'its solution file, to check the storage needs (node roles) the ISO does not carry'),
  ).action(
    action(
      async (iso: string, flags: Flags & { solution?: string }) => {
        const out = new Output(flags);
        await withInterrupt(async (signal) => {
          const target = await diagnosticsTarget(flags, out, signal);
          const solution = flags.solution ? (await loadSolutionFile(flags.solution)).solution : undefined;
          // The storage planner on the live inventory (it needs the SaltAPI and the solution file).
          const salt = 'salt' in target ? target.salt : undefined;
          const planStorage =
            solution && salt
              ? async () => {
                  const { inventory, listVolumes, planVolumes } = await import('../../storage/index.js');
                  const cluster = { kubeConfig: target.kubeConfig, salt };
                  const [inv, existing] = await Promise.all([inventory(cluster, { signal }), listVolumes(cluster, { signal })]);
                  const plan = planVolumes({ solution, inventory: inv, existing });
                  return {
                    satisfiable: plan.ok,
                    evidence: plan.ok ? plan.volumes.map((v) => `${v.component}.${v.need}: ${v.action} ${v.name} on ${v.node}`) : plan.unsatisfied.map((u) => `${u.component}.${u.need}: ${u.message}`),
                  };
                }
              : undefined;
          const r = await preflight(target, iso, { env: flags.env, solution, planStorage, registryUrl: flags.registryUrl ?? process.env.METALK8S_REGISTRY_URL, signal });
          const failed = r.checks.filter((c) => c.status === 'fail').length;
          out.result(`${r.checks.map(formatCheck).join('\n')}\n${r.solution} ${r.version}: ${failed === 0 ? 'ready to import' : `${failed} check(s) failed`}`, r);
          if (!r.ok) process.exitCode = 1;
        });
      },
      (_iso: string, flags: Flags) => new Output(flags),
    ),
  );
}
