/**
 * Platforms (`linux/amd64`, `linux/arm64/v8`) and how a manifest list entry is matched.
 *
 * @module
 */
import { ValidationError } from '../../errors.js';

/** An OS / CPU pair, as in an OCI index or a Docker manifest list. */
export interface Platform {
  /** `linux`. */
  readonly os: string;
  /** `amd64`, `arm64`, `s390x`, … */
  readonly architecture: string;
  /** CPU variant: `v8` for arm64, `v7` for arm. */
  readonly variant?: string | undefined;
}

/** The platform images are resolved to when nothing else is asked: `linux/amd64`. */
export const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

/**
 * Parses `os/arch[/variant]`.
 *
 * @example
 * ```ts
 * parsePlatform('linux/arm64/v8'); // { os: 'linux', architecture: 'arm64', variant: 'v8' }
 * ```
 */
export function parsePlatform(text: string): Platform {
  const parts = text.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9_]+$/.test(p))) {
    throw new ValidationError(
      [
        {
          code: 'PLATFORM_INVALID',
          path: text,
          message: `"${text}" is not a platform`,
          severity: 'error',
          hint: 'Write a platform as os/architecture[/variant], e.g. linux/amd64 or linux/arm64/v8.',
        },
      ],
      'platform',
    );
  }
  const [os = '', architecture = '', variant] = parts;
  return variant === undefined ? { os, architecture } : { os, architecture, variant };
}

/**
 * `os/arch[/variant]`.
 *
 * @example
 * ```ts
 * formatPlatform({ os: 'linux', architecture: 'arm64', variant: 'v8' }); // 'linux/arm64/v8'
 * ```
 */
export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

function normalVariant(p: Platform): string | undefined {
  if (p.variant) return p.variant;
  if (p.architecture === 'arm64') return 'v8';
  return undefined;
}

/**
 * True when a manifest list entry's platform satisfies the wanted one (arm64 implies v8).
 *
 * @example
 * ```ts
 * platformMatches({ os: 'linux', architecture: 'arm64' }, parsePlatform('linux/arm64/v8')); // true
 * ```
 */
export function platformMatches(candidate: Platform, wanted: Platform): boolean {
  if (candidate.os !== wanted.os || candidate.architecture !== wanted.architecture) return false;
  const want = normalVariant(wanted);
  if (want === undefined) return true;
  return normalVariant(candidate) === want;
}
