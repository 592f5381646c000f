/**
 * Sizes of volumes and resources, as value objects that print as Kubernetes quantities.
 *
 * @module
 */
import { QUANTITY_FACTORS } from './_quantity.js';

const QUANTITY_RE = /^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;

/** A storage size. Build it with the static constructors; it prints as a Kubernetes quantity. */
export class Size {
  private constructor(
    /** Size in bytes. */
    readonly bytes: number,
    private readonly text: string,
  ) {}

  /** @example Size.mebibytes(512) // "512Mi" */
  static mebibytes(n: number): Size {
    return new Size(n * 2 ** 20, `${n}Mi`);
  }
  /** @example Size.gibibytes(10) // "10Gi" */
  static gibibytes(n: number): Size {
    return new Size(n * 2 ** 30, `${n}Gi`);
  }
  /** @example Size.tebibytes(2) // "2Ti" */
  static tebibytes(n: number): Size {
    return new Size(n * 2 ** 40, `${n}Ti`);
  }
  /** Exactly `n` bytes. */
  static bytes(n: number): Size {
    return new Size(n, String(n));
  }
  /**
   * Parses a Kubernetes quantity such as `100Gi` or `500M`; `undefined` if it is not one.
   */
  static parse(text: string): Size | undefined {
    const m = QUANTITY_RE.exec(text.trim());
    if (!m) return undefined;
    const bytes = Number(m[1]) * (QUANTITY_FACTORS[m[2] ?? ''] ?? 1);
    return Number.isFinite(bytes) ? new Size(Math.round(bytes), text.trim()) : undefined;
  }

  /** The Kubernetes quantity, e.g. `10Gi`. */
  toString(): string {
    return this.text;
  }
  toJSON(): string {
    return this.text;
  }
}

/**
 * Bytes of a size given as a {@link Size} or a quantity string; `undefined` if unparsable.
 *
 * @example
 * ```ts
 * sizeInBytes('10Gi'); // 10737418240
 * sizeInBytes(Size.mebibytes(1)); // 1048576
 * ```
 */
export function sizeInBytes(size: Size | string): number | undefined {
  return typeof size === 'string' ? Size.parse(size)?.bytes : size.bytes;
}
