/**
 * Regular expressions as Go compiles them. The kube-apiserver compiles CRD `pattern`s, and
 * Prometheus compiles `=~` / `!~` matchers, with Go's `regexp` (RE2 syntax): no lookaround, no
 * backreferences, no `\u` escapes, repeat counts up to 1000. JavaScript accepts all of those, so
 * the check uses re2js, a port of RE2/J (itself a port of Go's `regexp/syntax`), whose error
 * messages are Go's own.
 *
 * @module
 */
import type * as Re2js from 're2js';
import { lazyModule } from './_lazy-module.js';

const re2js = lazyModule<typeof Re2js>('re2js');

const cache = new Map<string, string | undefined>();

/** Go's compile error for `pattern` (e.g. "invalid or unsupported Perl syntax: `(?=`"), or undefined when it compiles. */
export function re2Error(pattern: string): string | undefined {
  if (cache.has(pattern)) return cache.get(pattern);
  let out: string | undefined;
  try {
    re2js().RE2JS.compile(pattern);
  } catch (err) {
    out = (err instanceof Error ? err.message : String(err)).replace(/^error parsing regexp: /, '');
  }
  if (cache.size > 1000) cache.clear();
  cache.set(pattern, out);
  return out;
}

/** Whether `value` matches `pattern` anywhere, as Go's `regexp.MatchString` (the pattern must compile). */
export function re2Matches(pattern: string, value: string): boolean {
  return re2js().RE2JS.compile(pattern).matcher(value).find();
}
