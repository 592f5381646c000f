/**
 * How Solution versions are ordered when "latest" is resolved: the ordering of Salt's
 * `pkg.version_cmp` that MetalK8s uses, pure and shared by `cluster/` and the emulator.
 *
 * @module
 */

/**
 * Compares two versions part by part (split at `.` and `-`): numeric parts as numbers, others as
 * text; a version that is a prefix of the other is the older one. Negative, zero or positive,
 * for `Array.prototype.sort`.
 *
 * @example
 * ['1.10.0', '1.9.0', '2.0.0'].sort(compareVersions); // ['1.9.0', '1.10.0', '2.0.0']
 */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/);
  const pb = b.split(/[.-]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const c = /^\d+$/.test(x) && /^\d+$/.test(y) ? Number(x) - Number(y) : x < y ? -1 : x > y ? 1 : 0;
    if (c !== 0) return c;
  }
  return 0;
}
