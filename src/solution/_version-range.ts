/**
 * Version ranges of `requires.metalk8s`: space-separated comparators (`>=128.0.0 <131`), joined
 * by `||`. Comparisons follow MetalK8s' own ordering (numeric dot/dash parts, as
 * `pkg.version_cmp`); a missing part counts as 0, so `<131` means below 131.0.0. Hand-written: the
 * full semver grammar (carets, tildes, x-ranges) is not what MetalK8s versions need, and the
 * `semver` package was dropped as a dependency.
 */

/** The accepted syntax of a range. */
export const VERSION_RANGE_RE = /^\s*(?:(?:>=|<=|>|<|=)?\s*\d+(?:\.\d+){0,2}(?:-[0-9a-z.-]+)?\s*)+(?:\|\|\s*(?:(?:>=|<=|>|<|=)?\s*\d+(?:\.\d+){0,2}(?:-[0-9a-z.-]+)?\s*)+)*$/;

function compare(a: string, b: string): number {
  const [ma = '', pa] = a.split(/-(.*)/s);
  const [mb = '', pb] = b.split(/-(.*)/s);
  const na = ma.split('.').map(Number);
  const nb = mb.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (na[i] ?? 0) - (nb[i] ?? 0);
    if (d !== 0) return d;
  }
  // A pre-release sorts before its release (129.0.0-alpha.1 < 129.0.0).
  if (pa === undefined || pb === undefined) return pa === pb ? 0 : pa === undefined ? 1 : -1;
  return pa < pb ? -1 : pa > pb ? 1 : 0;
}

/** Whether `version` (e.g. `129.0.0`) is in `range` (e.g. `>=128.0.0 <131`). */
export function satisfiesRange(version: string, range: string): boolean {
  return range.split('||').some((alt) =>
    (alt.match(/(>=|<=|>|<|=)?\s*[0-9][0-9a-z.-]*/g) ?? []).every((c) => {
      const m = /^(>=|<=|>|<|=)?\s*(.+)$/.exec(c.trim());
      const op = m?.[1] ?? '=';
      const d = compare(version, m?.[2] ?? '');
      return op === '>=' ? d >= 0 : op === '<=' ? d <= 0 : op === '>' ? d > 0 : op === '<' ? d < 0 : d === 0;
    }),
  );
}
