/**
 * Kubernetes resource quantities (`k8s.io/apimachinery/pkg/api/resource`), parsed the way the
 * API server parses them, so "100mcores" or "128MB" are refused before a Deployment is. Written
 * here because the only JavaScript parser at hand (`@kubernetes/client-node`'s `quantityToScalar`)
 * is lenient and would pull the whole Kubernetes client into the pure model.
 *
 * Grammar: `<signedNumber><suffix>`, suffix one of the binary SI units (Ki…Ei), the decimal SI
 * units (n, u, m, "", k, M, G, T, P, E) or a decimal exponent (e3, E-2).
 *
 * @module
 */

const QUANTITY_RE = /^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$/;
/** Multipliers of the quantity suffixes. */
export const QUANTITY_FACTORS: Readonly<Record<string, number>> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

/**
 * The value of a quantity (a string, or a JSON number as YAML gives it), or `undefined` when the
 * API server would refuse it ("quantities must match the regular expression …").
 */
export function parseQuantity(q: string | number): number | undefined {
  if (typeof q === 'number') return Number.isFinite(q) ? q : undefined;
  const m = QUANTITY_RE.exec(q);
  if (!m) return undefined;
  const suffix = m[2] ?? '';
  const factor = /^[eE]/.test(suffix) ? 10 ** Number(suffix.slice(1)) : QUANTITY_FACTORS[suffix];
  if (factor === undefined) return undefined;
  const v = Number(m[1]) * factor;
  return Number.isFinite(v) ? v : undefined;
}
