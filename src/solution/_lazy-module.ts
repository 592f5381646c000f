/**
 * Validators' dependencies loaded on first use: the CEL parser, the PromQL grammar and re2js cost
 * 8 to 11 ms each to import, and a solution without CEL rules, alerts or patterns never calls
 * them. Synchronous, since validation is (`require` of an ES module works from Node 20.19, the
 * package's floor).
 *
 * @module
 */
import { createRequire } from 'node:module';

const load = createRequire(import.meta.url);

/** A function that loads `specifier` on its first call and returns the same module after. */
export function lazyModule<T>(specifier: string): () => T {
  let mod: T | undefined;
  return () => {
    mod ??= load(specifier) as T;
    return mod;
  };
}
