/**
 * `doctor()`: analyzers over a live cluster or a support bundle, each finding with its
 * severity, evidence and what to do. The same analyzer code runs over the same object model
 * ({@link DiagnosticsSnapshot}) either way.
 *
 * Vendors add their own analyzers as typed functions over the snapshot ({@link defineAnalyzer}),
 * kept in their support tooling and passed with `analyzers` (or `solution doctor --analyzers
 * FILE`). They are not packed into the ISO: a bundle is data, and support runs the vendor's
 * current analyzers on it, also on bundles from older versions.
 *
 * @module
 */
import { SdkError } from '../errors.js';
import { type Analyzer, BUILTIN_ANALYZERS, type Finding, type FindingSeverity } from './_analyzers.js';
import { type CollectOptions, collectSnapshot, type DiagnosticsSnapshot, type DiagnosticsTarget } from './diagnostics-snapshot.js';
import { readSupportBundle } from './support-bundle.js';

export type { Analyzer, Finding, FindingSeverity } from './_analyzers.js';

/** A finding with the analyzer that made it. */
export interface DoctorFinding extends Finding {
  readonly analyzer: string;
}

/** Options of {@link doctor}. */
export interface DoctorOptions extends Omit<CollectOptions, 'now'> {
  /** Analyze this support bundle instead of a live cluster. */
  readonly bundle?: string | undefined;
  /** A cluster to collect from (needed without `bundle`). */
  readonly target?: DiagnosticsTarget | undefined;
  /** An already collected snapshot (e.g. `supportBundle().snapshot`). */
  readonly snapshot?: DiagnosticsSnapshot | undefined;
  /** More analyzers, run after the built-in ones. */
  readonly analyzers?: readonly Analyzer[] | undefined;
  /** Run only the vendor's analyzers. @default false */
  readonly skipBuiltin?: boolean | undefined;
}

/** What {@link doctor} found. */
export interface DoctorResult {
  readonly source: 'cluster' | 'bundle' | 'snapshot';
  readonly collectedAt: string;
  /** Sorted: critical first, then by analyzer and subject. */
  readonly findings: readonly DoctorFinding[];
  /** Names of the analyzers run. */
  readonly analyzers: readonly string[];
  /** What the snapshot could not collect (findings may be missing for those). */
  readonly problems: DiagnosticsSnapshot['problems'];
  /** Whether a critical finding was made. */
  readonly healthy: boolean;
}

/** Types a vendor analyzer (an identity function, for editor help). */
export function defineAnalyzer(analyzer: Analyzer): Analyzer {
  return analyzer;
}

const RANK: Record<FindingSeverity, number> = { critical: 0, warning: 1, info: 2 };

/** Runs analyzers over a snapshot; a throwing analyzer becomes a warning finding. */
export async function analyze(snapshot: DiagnosticsSnapshot, analyzers: readonly Analyzer[]): Promise<DoctorFinding[]> {
  const out: DoctorFinding[] = [];
  for (const a of analyzers) {
    try {
      for (const f of await a.run(snapshot)) out.push({ ...f, analyzer: a.name });
    } catch (err) {
      out.push({
        analyzer: a.name,
        code: 'ANALYZER_FAILED',
        severity: 'warning',
        subject: `analyzer ${a.name}`,
        title: `analyzer ${a.name} failed: ${err instanceof Error ? err.message : String(err)}`,
        evidence: [],
        remedy: 'Report it to the analyzer author; the other findings are still valid.',
      });
    }
  }
  const order = new Map(analyzers.map((a, i) => [a.name, i]));
  return out.sort((a, b) => RANK[a.severity] - RANK[b.severity] || (order.get(a.analyzer) ?? 0) - (order.get(b.analyzer) ?? 0) || (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0));
}

/**
 * Diagnoses a cluster (live, or from a support bundle).
 *
 * @throws `SdkError` `DOCTOR_NO_SOURCE` when neither a bundle, a snapshot nor a target is given.
 * @example
 * ```ts
 * const live = await doctor({ target: cluster, env: 'zenko-prod' });
 * const fromFile = await doctor({ bundle: 'zenko.tar.gz' });
 * for (const f of fromFile.findings) console.log(f.severity, f.title, f.remedy);
 * ```
 */
export async function doctor(options: DoctorOptions): Promise<DoctorResult> {
  let snapshot: DiagnosticsSnapshot;
  let source: DoctorResult['source'];
  if (options.snapshot) {
    snapshot = options.snapshot;
    source = 'snapshot';
  } else if (options.bundle !== undefined) {
    snapshot = await readSupportBundle(options.bundle, { signal: options.signal });
    source = 'bundle';
  } else if (options.target) {
    snapshot = await collectSnapshot(options.target, options);
    source = 'cluster';
  } else {
    throw new SdkError('DOCTOR_NO_SOURCE', 'doctor needs a bundle file, a snapshot or a cluster to look at', { hint: 'Pass bundle, snapshot or target.' });
  }
  const analyzers = [...(options.skipBuiltin ? [] : BUILTIN_ANALYZERS), ...(options.analyzers ?? [])];
  const findings = await analyze(snapshot, analyzers);
  return {
    source,
    collectedAt: snapshot.collectedAt,
    findings,
    analyzers: analyzers.map((a) => a.name),
    problems: snapshot.problems,
    healthy: !findings.some((f) => f.severity === 'critical'),
  };
}
