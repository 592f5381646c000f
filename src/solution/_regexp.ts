/**
 * Regular expressions as Go compiles them. The kube-apiserver compiles CRD `pattern`s, and
 * Prometheus compiles `=~` / `!~` matchers, with Go's `regexp` (RE2 syntax): no lookaround, no
 * backreferences, no `\u` escapes, repeat counts up to 1000. JavaScript accepts all of those, so
 * the check uses re2js, a port of RE2/J (itself a port of Go's `regexp/syntax`), whose error
 * messages are Go's own.
 *
 * @module
 */
import { createRequire } from 'node:module';
import type { RE2JS as RE2JSType } from 're2js';

let re2js: typeof RE2JSType | undefined;
/** re2js, loaded on the first pattern: a solution without patterns does not pay its 8 ms import. */
function RE2(): typeof RE2JSType {
  re2js ??= (createRequire(import.meta.url)('re2js') as { RE2JS: typeof RE2JSType }).RE2JS;
  return re2js;
}

const cache = new Map<string, string | undefined>();

/** Go's compile error for `pattern` (e.g. "invalid or unsupported Perl syntax: `(?=`"), or undefined when it compiles. */
export function re2Error(pattern: string): string | undefined {
  if (cache.has(pattern)) return cache.get(pattern);
  let out: string | undefined;
  try {
    RE2().compile(pattern);
  } catch (err) {
    out = (err instanceof Error ? err.message : String(err)).replace(/^error parsing regexp: /, '');
  }
  if (cache.size > 1000) cache.clear();
  cache.set(pattern, out);
  return out;
}

/** Whether `value` matches `pattern` anywhere, as Go's `regexp.MatchString` (the pattern must compile). */
export function re2Matches(pattern: string, value: string): boolean {
  return RE2().compile(pattern).matcher(value).find();
}
