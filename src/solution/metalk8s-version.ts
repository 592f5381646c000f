/**
 * Which MetalK8s version does what to a Solution: the features of `prepare-environment` that
 * depend on the MetalK8s version (metalk8s-reference.md §0 "Format history", §2.9, §8), so
 * predictions and the emulator can play one version exactly.
 *
 * @module
 */
import { SdkError } from '../errors.js';

/** The MetalK8s version whose Salt code the reference records (metalk8s-reference.md §8). */
export const DEFAULT_METALK8S_VERSION = '129.0.0';

/**
 * First MetalK8s version assumed to create the operator metrics objects. The commit that adds
 * them (`feed5d6…`) is newer than 129 and its release is not confirmed (reference §2.9).
 */
export const OPERATOR_METRICS_SINCE = '130.0.0';

/** What `prepare-environment` of one MetalK8s version does. */
export interface MetalK8sFeatures {
  /** The version, normalised to `major.minor.patch` (a pre-release suffix is kept). */
  readonly version: string;
  /** `add-solution --webhook` (pillar `orchestrate.webhook_enabled`): 124.1.7+ and 125.0+. */
  readonly webhook: boolean;
  /** Operator metrics objects from `spec.operator.metrics` (MetalK8s 130.0.0 and later). */
  readonly operatorMetrics: boolean;
}

interface Parsed {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  readonly suffix: string;
}

const VERSION_RE = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?(-[0-9A-Za-z.-]+)?$/;

function parse(version: string): Parsed {
  const m = VERSION_RE.exec(version.trim().replace(/^metalk8s-/, ''));
  if (!m) {
    throw new SdkError('METALK8S_VERSION_INVALID', `"${version}" is not a MetalK8s version`, {
      hint: 'Give it as 129, 129.0 or 129.0.0 (or 2.11.3 for the 2.x line).',
    });
  }
  return { major: Number(m[1]), minor: Number(m[2] ?? 0), patch: Number(m[3] ?? 0), suffix: m[4] ?? '' };
}

function atLeast(v: Parsed, major: number, minor: number, patch: number): boolean {
  if (v.major !== major) return v.major > major;
  if (v.minor !== minor) return v.minor > minor;
  return v.patch >= patch;
}

/**
 * The features of a MetalK8s version. Accepts `129`, `129.0`, `129.0.0`, `129.0.0-dev` or a
 * saltenv (`metalk8s-129.0.0`).
 *
 * @throws `SdkError` `METALK8S_VERSION_INVALID` for anything else.
 * @example
 * ```ts
 * metalk8sFeatures('129').operatorMetrics; // false
 * ```
 */
export function metalk8sFeatures(version: string = DEFAULT_METALK8S_VERSION): MetalK8sFeatures {
  const v = parse(version);
  const metrics = parse(OPERATOR_METRICS_SINCE);
  return {
    version: `${v.major}.${v.minor}.${v.patch}${v.suffix}`,
    // First in 125.0.0-alpha.3, backported to 124.1.7 (reference §0).
    webhook: atLeast(v, 125, 0, 0) || (v.major === 124 && atLeast(v, 124, 1, 7)),
    operatorMetrics: atLeast(v, metrics.major, metrics.minor, metrics.patch),
  };
}
