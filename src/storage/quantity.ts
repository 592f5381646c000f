/**
 * The size grammar a MetalK8s node accepts. Salt's `_quantity_to_bytes`
 * (`salt/_modules/metalk8s_volumes.py`) parses `^[1-9][0-9]*(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$` only:
 * `1.5Gi`, `1e9`, `0`, `+1Gi`, `E`/`Ei` and `1K` are valid Kubernetes quantities that fail on
 * the node (platform-reference §0.1 item 3, §A.7). The planner emits sizes through
 * {@link formatNodeQuantity} only.
 *
 * @module
 */

const NODE_UNITS: readonly (readonly [string, number])[] = [
  ['Pi', 2 ** 50],
  ['Ti', 2 ** 40],
  ['Gi', 2 ** 30],
  ['Mi', 2 ** 20],
  ['Ki', 2 ** 10],
  ['P', 1e15],
  ['T', 1e12],
  ['G', 1e9],
  ['M', 1e6],
  ['k', 1e3],
];
const NODE_QUANTITY_RE = /^([1-9][0-9]*)(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$/;

/** Bytes of a size written in the node's grammar; `undefined` if the node would refuse it. */
export function parseNodeQuantity(text: string): number | undefined {
  const m = NODE_QUANTITY_RE.exec(text);
  if (!m) return undefined;
  const unit = NODE_UNITS.find(([u]) => u === m[2]);
  const bytes = Number(m[1]) * (unit ? unit[1] : 1);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/**
 * Writes a positive whole number of bytes in the node's grammar, with the largest binary unit
 * that divides it exactly (`10737418240` → `10Gi`, `1000` → `1000`).
 *
 * @throws RangeError when `bytes` is not a positive safe integer.
 */
export function formatNodeQuantity(bytes: number): string {
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new RangeError(`${bytes} is not a positive whole number of bytes`);
  for (const [unit, factor] of NODE_UNITS.slice(0, 5)) if (bytes % factor === 0) return `${bytes / factor}${unit}`;
  return String(bytes);
}

const BINARY: readonly (readonly [string, number])[] = NODE_UNITS.slice(0, 5);

/** A human size such as `1.5 GiB`, for tables and messages. */
export function humanBytes(bytes: number): string {
  for (const [unit, factor] of BINARY) {
    if (bytes >= factor) {
      const v = bytes / factor;
      return `${Number.isInteger(v) ? v : v.toFixed(1)} ${unit}B`;
    }
  }
  return `${bytes} B`;
}
