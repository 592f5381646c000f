/**
 * PromQL checks, in process, with the Prometheus project's own code:
 * - syntax: the lezer grammar of Prometheus' web UI (`@prometheus-io/lezer-promql`);
 * - types: the linter of the same UI (`@prometheus-io/codemirror-promql`'s `Parser`, a port of
 *   Prometheus' `checkAST`): argument types of functions (`rate(x)` without a range, `abs(up[5m])`),
 *   operands of binary and set operators, aggregation parameters, subqueries, `offset`/`@`;
 * - what neither does: label-matcher regexes compiled as Prometheus compiles them
 *   (`^(?s:<re>)$` with Go's RE2), and the type of the whole expression, which must be an
 *   instant vector or a scalar for a rule to ever fire.
 *
 * Not covered (left to promtool or to Prometheus at run time): unknown functions are syntax
 * errors but experimental ones are accepted, label names of `by`/`without` are not checked
 * against the data, and durations are not checked for being positive.
 *
 * The linter is CommonJS-only in practice (its ESM build imports paths without extensions, which
 * Node refuses), so it is loaded from its `dist/cjs` folder, with the CommonJS builds of the
 * CodeMirror state it shares (one copy of each, or its language facet would not be found).
 *
 * @module
 */
import { createRequire } from 'node:module';
import type { EditorState as EditorStateType } from '@codemirror/state';
import type { SyntaxNode, Tree } from '@lezer/common';
import type * as LezerPromql from '@prometheus-io/lezer-promql';
import { lazyModule } from './_lazy-module.js';
import { re2Error } from './_regexp.js';

/** The PromQL grammar (the linter below loads its own copy). */
const promql = lazyModule<typeof LezerPromql>('@prometheus-io/lezer-promql');

/** A problem in a PromQL expression: 1-based line and column. */
export interface PromqlProblem {
  /** `syntax`: does not parse; `type`: wrong operand types; `regex`: a matcher RE2 refuses; `result`: the expression's type is not usable by a rule. */
  readonly kind: 'syntax' | 'type' | 'regex' | 'result';
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

/** Kept for callers of the syntax-only check. */
export type PromqlSyntaxError = PromqlProblem;

function position(expr: string, offset: number): { line: number; column: number } {
  const before = expr.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

/** Returns the first syntax error of `expr`, or `undefined` when it parses. */
export function checkPromql(expr: string): PromqlProblem | undefined {
  if (expr.trim() === '') return { kind: 'syntax', line: 1, column: 1, message: 'empty expression' };
  const tree = promql().parser.parse(expr);
  let found: PromqlProblem | undefined;
  tree.iterate({
    enter(node) {
      if (found) return false;
      if (node.type.isError) {
        const { line, column } = position(expr, node.from);
        const near = expr.slice(node.from, node.from + 12);
        found = {
          kind: 'syntax',
          line,
          column,
          message: near ? `syntax error near ${JSON.stringify(near)}` : 'unexpected end of expression',
        };
        return false;
      }
      return undefined;
    },
  });
  return found;
}

/** The value of a PromQL string literal ("…", '…' with Go escapes, or `…` raw). */
function unquote(lit: string): string | undefined {
  if (lit.startsWith('`')) return lit.slice(1, -1);
  const body = lit.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const n = body[++i];
    const simple: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"', "'": "'" };
    if (n !== undefined && n in simple) out += simple[n];
    else if (n === 'x') {
      out += String.fromCharCode(Number.parseInt(body.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (n === 'u' || n === 'U') {
      const len = n === 'u' ? 4 : 8;
      out += String.fromCodePoint(Number.parseInt(body.slice(i + 1, i + 1 + len), 16));
      i += len;
    } else if (n !== undefined && /[0-7]/.test(n)) {
      out += String.fromCharCode(Number.parseInt(body.slice(i, i + 3), 8));
      i += 2;
    } else return undefined;
  }
  return out;
}

interface Linter {
  readonly EditorState: typeof EditorStateType;
  readonly language: unknown;
  readonly Parser: new (state: EditorStateType) => { analyze(): void; getDiagnostics(): { severity: string; from: number; message: string }[] };
  readonly getType: (node: SyntaxNode | null) => string;
  readonly parse: (expr: string) => Tree;
}
let linter: Linter | undefined;

/** The Prometheus MetalK8s 129 ships (platform-reference.md §0). */
export const METALK8S_PROMETHEUS = 'v2.53.0';
/** Functions and aggregations the grammar knows but Prometheus v2.53 does not run (newer, or experimental and disabled there). */
const NOT_IN_METALK8S_PROMETHEUS = new Set([
  'info', 'limitk', 'limit_ratio', 'double_exponential_smoothing', 'sort_by_label', 'sort_by_label_desc', 'ts_of_max_over_time',
  'ts_of_min_over_time', 'ts_of_last_over_time', 'ts_of_first_over_time', 'first_over_time', 'histogram_quantiles',
]);

function loadLinter(): Linter {
  if (linter) return linter;
  const require = createRequire(import.meta.url);
  const cm = require('@prometheus-io/codemirror-promql');
  // The grammar the linter compares node types against: its own copy, wherever npm put it.
  const own = createRequire(require.resolve('@prometheus-io/codemirror-promql'));
  linter = {
    EditorState: require('@codemirror/state').EditorState,
    language: cm.promQLLanguage(cm.LanguageType.PromQL),
    Parser: require('@prometheus-io/codemirror-promql/dist/cjs/parser/index.js').Parser,
    getType: require('@prometheus-io/codemirror-promql/dist/cjs/parser/type.js').getType,
    parse: (expr: string) => own('@prometheus-io/lezer-promql').parser.parse(expr),
  };
  return linter;
}

/**
 * Every problem of `expr`: syntax, then types, regexes and (when `requireInstant`) the
 * expression's own type. Empty when Prometheus would run it.
 */
export function lintPromql(original: string, options: { readonly requireInstant?: boolean } = {}): PromqlProblem[] {
  // holt_winters (Prometheus 2.x) was renamed double_exponential_smoothing in 3.0, the grammar's version.
  const expr = original.replace(/\bholt_winters(?=\s*\()/g, 'double_exponential_smoothing');
  const renamed = expr !== original;
  const syntax = checkPromql(expr);
  if (syntax) return [syntax];
  const lint = loadLinter();
  const state = lint.EditorState.create({ doc: expr, extensions: lint.language as never });
  const p = new lint.Parser(state);
  // The linter reads the editor's syntax tree, which CodeMirror parses within a 20 ms budget: on a
  // busy machine it can be partial, and the linter then reports errors that are not there. Give
  // it the whole tree, parsed by the same grammar without a budget.
  const tree = lint.parse(expr);
  (p as unknown as { tree: unknown }).tree = tree;
  p.analyze();
  const out: PromqlProblem[] = [];
  for (const d of p.getDiagnostics()) {
    if (d.severity !== 'error') continue;
    out.push({ kind: 'type', ...position(expr, d.from), message: d.message });
  }
  const { EqlRegex, NeqRegex, StringLiteral } = promql();
  tree.iterate({
    enter(node) {
      if (node.type.id !== EqlRegex && node.type.id !== NeqRegex) return undefined;
      // MatchOp > EqlRegex; the value is the StringLiteral after the MatchOp.
      let lit: SyntaxNode | null = node.node.parent;
      while (lit && lit.type.id !== StringLiteral) lit = lit.nextSibling;
      if (!lit) return undefined;
      const re = unquote(expr.slice(lit.from, lit.to));
      const err = re === undefined ? 'invalid escape in the string' : re2Error(`^(?s:${re})$`);
      if (err) out.push({ kind: 'regex', ...position(expr, lit.from), message: `the regular expression ${expr.slice(lit.from, lit.to)} does not compile: ${err}` });
      return undefined;
    },
  });
  tree.iterate({
    enter(node) {
      const text = expr.slice(node.from, node.to);
      if ((node.name === 'FunctionIdentifier' || node.name === 'AggregateOp') && NOT_IN_METALK8S_PROMETHEUS.has(text) && !(renamed && text === 'double_exponential_smoothing' && !original.includes(text)))
        out.push({ kind: 'type', ...position(expr, node.from), message: `"${text}" is not available in Prometheus ${METALK8S_PROMETHEUS} (MetalK8s 129): it is newer or experimental` });
      if (node.name === 'DurationExpr') {
        const parent = node.node.parent;
        const isRange = parent?.name === 'MatrixSelector' || (parent?.name === 'SubqueryExpr' && parent.getChild('DurationExpr')?.from === node.from);
        if (isRange && /^[0.smhdwy]+$/.test(text.replace(/\s/g, '')) && /0/.test(text))
          out.push({ kind: 'type', ...position(expr, node.from), message: `range ${text}: duration must be greater than 0` });
      }
      if (node.name === 'VectorSelector' && node.node.getChild('Identifier')) {
        for (const m of node.node.getChild('LabelMatchers')?.getChildren('UnquotedLabelMatcher') ?? [])
          if (expr.slice(m.from, m.to).startsWith('__name__'))
            out.push({ kind: 'type', ...position(expr, m.from), message: 'metric name must not be set twice (before the braces and as __name__)' });
      }
      return undefined;
    },
  });
  if (options.requireInstant && out.length === 0) {
    const type = lint.getType(tree.topNode.firstChild);
    if (type !== 'vector' && type !== 'scalar' && type !== 'none')
      out.push({ kind: 'result', line: 1, column: 1, message: `the expression is of type ${type}; a rule needs an instant vector or a scalar` });
  }
  return out;
}
