/** The one object test of the SDK: a plain record (not `null`, not an array), as parsed JSON or YAML gives. */

/** Whether `value` is an object with string keys: not `null`, not an array. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
