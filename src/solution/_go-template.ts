/**
 * Parse check of Go `text/template` text, as Prometheus does for every alert label and annotation
 * (`promtool check rules` and the rule manager parse them with the template functions of
 * `github.com/prometheus/prometheus/template` and the variables `$labels`, `$externalLabels`,
 * `$externalURL` and `$value`). Only parsing: what Go's `text/template/parse` refuses (unclosed
 * actions, unknown functions, undefined variables, unbalanced `if`/`range`/`end`, literals used as
 * pipeline stages...). Execution errors (a wrong argument type at run time) are not predicted.
 *
 * Hand-written because no maintained JavaScript package implements Go's template grammar: the
 * npm packages named after it either run a Go binary or implement another language.
 *
 * @module
 */

/** Go's built-in template functions (`text/template` `builtins()`). */
const GO_BUILTINS = ['and', 'call', 'html', 'index', 'slice', 'js', 'len', 'not', 'or', 'print', 'printf', 'println', 'urlquery', 'eq', 'ge', 'gt', 'le', 'lt', 'ne'];
/** Functions Prometheus adds for alert templates (`template.NewTemplateExpander`, Prometheus 2.x). */
const PROMETHEUS_FUNCS = [
  'query', 'first', 'label', 'value', 'strvalue', 'args', 'reReplaceAll', 'safeHtml', 'match', 'title', 'toUpper', 'toLower',
  'graphLink', 'tableLink', 'sortByLabel', 'humanize', 'humanize1024', 'humanizeDuration', 'humanizePercentage',
  'humanizeTimestamp', 'toTime', 'toDuration', 'now', 'pathPrefix', 'externalURL', 'parseDuration', 'stripPort', 'stripDomain',
];
/** Variables Prometheus defines before every alert template. */
export const PROMETHEUS_TEMPLATE_VARS = ['$labels', '$externalLabels', '$externalURL', '$value'];
export const PROMETHEUS_TEMPLATE_FUNCS: ReadonlySet<string> = new Set([...GO_BUILTINS, ...PROMETHEUS_FUNCS]);

type TokType = 'space' | 'pipe' | 'lparen' | 'rparen' | 'comma' | 'declare' | 'assign' | 'string' | 'raw' | 'char' | 'number' | 'bool' | 'nil' | 'dot' | 'field' | 'variable' | 'ident' | 'keyword' | 'end';
interface Tok {
  readonly type: TokType;
  readonly text: string;
  /** Field chain right after the token, e.g. `.Labels.job` after `$`. */
  chained?: boolean;
}

const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'define', 'template', 'block', 'break', 'continue']);

class TemplateSyntaxError extends Error {}

function fail(message: string): never {
  throw new TemplateSyntaxError(message);
}

/** Splits one action's inside (between the delimiters) into tokens. */
function lexAction(src: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  const isAlnum = (c: string | undefined) => c !== undefined && /[\p{L}\p{N}_]/u.test(c);
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      while (i < src.length && /\s/.test(src[i]!)) i++;
      continue;
    }
    const start = i;
    if (c === '|') { toks.push({ type: 'pipe', text: c }); i++; continue; }
    if (c === '(') { toks.push({ type: 'lparen', text: c }); i++; continue; }
    if (c === ')') { toks.push({ type: 'rparen', text: c }); i++; }
    else if (c === ',') { toks.push({ type: 'comma', text: c }); i++; continue; }
    else if (c === ':' ) {
      if (src[i + 1] !== '=') fail('expected :=');
      toks.push({ type: 'declare', text: ':=' });
      i += 2;
      continue;
    } else if (c === '=') { toks.push({ type: 'assign', text: '=' }); i++; continue; }
    else if (c === '"') {
      i++;
      while (i < src.length && src[i] !== '"') {
        if (src[i] === '\\') i++;
        if (src[i] === '\n') fail('unterminated quoted string');
        i++;
      }
      if (i >= src.length) fail('unterminated quoted string');
      i++;
      toks.push({ type: 'string', text: src.slice(start, i) });
    } else if (c === '`') {
      const close = src.indexOf('`', i + 1);
      if (close < 0) fail('unterminated raw quoted string');
      i = close + 1;
      toks.push({ type: 'raw', text: src.slice(start, i) });
    } else if (c === "'") {
      i++;
      while (i < src.length && src[i] !== "'") {
        if (src[i] === '\\') i++;
        i++;
      }
      if (i >= src.length) fail('unterminated character constant');
      i++;
      toks.push({ type: 'char', text: src.slice(start, i) });
    } else if (/[0-9+-]/.test(c) || (c === '.' && /[0-9]/.test(src[i + 1] ?? ''))) {
      i++;
      while (i < src.length && /[0-9a-zA-Z_.+-]/.test(src[i]!)) {
        if ((src[i] === '+' || src[i] === '-') && !/[eEpP]/.test(src[i - 1]!)) break;
        i++;
      }
      const num = src.slice(start, i);
      if (!/^[+-]?(0[xX][0-9a-fA-F_]+(\.[0-9a-fA-F_]*)?([pP][+-]?\d+)?|0[bB][01_]+|0[oO]?[0-7_]+|(\d[\d_]*)?\.?\d*([eE][+-]?\d+)?)i?$/.test(num) || !/\d/.test(num))
        fail(`bad number syntax: "${num}"`);
      toks.push({ type: 'number', text: num });
    } else if (c === '.') {
      i++;
      if (isAlnum(src[i])) {
        while (isAlnum(src[i])) i++;
        toks.push({ type: 'field', text: src.slice(start, i) });
      } else toks.push({ type: 'dot', text: '.' });
      continue;
    } else if (c === '$') {
      i++;
      while (isAlnum(src[i])) i++;
      toks.push({ type: 'variable', text: src.slice(start, i) });
    } else if (isAlnum(c)) {
      while (isAlnum(src[i])) i++;
      const word = src.slice(start, i);
      toks.push({ type: KEYWORDS.has(word) ? 'keyword' : word === 'true' || word === 'false' ? 'bool' : word === 'nil' ? 'nil' : 'ident', text: word });
    } else fail(`unrecognized character in action: ${JSON.stringify(c)}`);
    // Fields chained right after a term: $x.a.b, (f).a, .a.b
    while (src[i] === '.' && isAlnum(src[i + 1])) {
      const s = i;
      i++;
      while (isAlnum(src[i])) i++;
      toks.push({ type: 'field', text: src.slice(s, i), chained: true });
    }
  }
  return toks;
}

/** One action or piece of text, in order. */
type Piece = { readonly action: Tok[] } | { readonly comment: true };

function splitActions(text: string): Piece[] {
  const out: Piece[] = [];
  let i = 0;
  for (;;) {
    const open = text.indexOf('{{', i);
    if (open < 0) return out;
    let j = open + 2;
    if (text[j] === '-' && /\s/.test(text[j + 1] ?? '')) j += 2;
    if (text.startsWith('/*', j)) {
      const close = text.indexOf('*/', j + 2);
      if (close < 0) fail('unclosed comment');
      let k = close + 2;
      if (text.startsWith(' -}}', k)) k += 4;
      else if (text.startsWith('}}', k)) k += 2;
      else fail('comment ends before closing delimiter');
      out.push({ comment: true });
      i = k;
      continue;
    }
    // Find the closing delimiter outside string literals.
    let k = j;
    let close = -1;
    while (k < text.length) {
      const c = text[k]!;
      if (c === '"' || c === "'") {
        k++;
        while (k < text.length && text[k] !== c && text[k] !== '\n') k += text[k] === '\\' ? 2 : 1;
        if (text[k] !== c) fail(c === '"' ? 'unterminated quoted string' : 'unterminated character constant');
        k++;
        continue;
      }
      if (c === '`') {
        const e = text.indexOf('`', k + 1);
        if (e < 0) fail('unterminated raw quoted string');
        k = e + 1;
        continue;
      }
      if (text.startsWith('}}', k)) {
        close = k;
        break;
      }
      k++;
    }
    if (close < 0) fail('unclosed action');
    let inner = text.slice(j, close);
    if (/\s-$/.test(inner)) inner = inner.slice(0, -1);
    out.push({ action: lexAction(inner) });
    i = close + 2;
  }
}

interface Scope {
  readonly kind: 'root' | 'if' | 'range' | 'with' | 'define' | 'block';
  readonly vars: Set<string>;
  elseSeen: boolean;
}

class TemplateParser {
  private readonly stack: Scope[];
  private toks: Tok[] = [];
  private pos = 0;
  constructor(
    private readonly funcs: ReadonlySet<string>,
    vars: readonly string[],
  ) {
    this.stack = [{ kind: 'root', vars: new Set(['$', ...vars]), elseSeen: false }];
  }

  private defined(v: string): boolean {
    return this.stack.some((s) => s.vars.has(v));
  }
  private peek(): Tok | undefined {
    return this.toks[this.pos];
  }
  private next(): Tok | undefined {
    return this.toks[this.pos++];
  }

  action(toks: Tok[]): void {
    this.toks = toks;
    this.pos = 0;
    const first = this.peek();
    if (!first) fail('missing value for command');
    if (first.type === 'keyword') {
      this.pos++;
      this.keyword(first.text);
      return;
    }
    this.pipeline('command', false);
    this.expectEnd('command');
  }

  private expectEnd(ctx: string): void {
    const t = this.peek();
    if (t) fail(`unexpected "${t.text}" in ${ctx}`);
  }

  private keyword(word: string): void {
    const top = this.stack[this.stack.length - 1]!;
    switch (word) {
      case 'end':
        if (this.stack.length === 1) fail('unexpected {{end}}');
        this.expectEnd('end');
        this.stack.pop();
        return;
      case 'else': {
        if (!['if', 'range', 'with'].includes(top.kind)) fail('unexpected {{else}}');
        if (top.elseSeen) fail('expected end; found {{else}}');
        const nxt = this.peek();
        if (nxt?.type === 'keyword' && (nxt.text === 'if' || nxt.text === 'with')) {
          // {{else if …}} / {{else with …}}: same scope, a new condition.
          this.pos++;
          this.pipeline(nxt.text, true);
          this.expectEnd(nxt.text);
          return;
        }
        top.elseSeen = true;
        this.expectEnd('else');
        return;
      }
      case 'if':
      case 'with':
      case 'range': {
        const scope: Scope = { kind: word, vars: new Set(), elseSeen: false };
        this.stack.push(scope);
        this.pipeline(word, true, word === 'range' ? 2 : 1);
        this.expectEnd(word);
        return;
      }
      case 'break':
      case 'continue':
        if (!this.stack.some((s) => s.kind === 'range')) fail(`{{${word}}} outside {{range}}`);
        this.expectEnd(word);
        return;
      case 'define':
      case 'template':
      case 'block': {
        const name = this.next();
        if (!name || (name.type !== 'string' && name.type !== 'raw')) fail(`unexpected ${name ? `"${name.text}"` : 'end'} in ${word} clause`);
        if (word === 'define') {
          this.expectEnd('define clause');
          this.stack.push({ kind: 'define', vars: new Set(['$']), elseSeen: false });
          return;
        }
        if (this.peek()) this.pipeline(word, false);
        this.expectEnd(word);
        if (word === 'block') this.stack.push({ kind: 'block', vars: new Set(), elseSeen: false });
        return;
      }
      default:
        fail(`unexpected <${word}> in command`);
    }
  }

  /** A pipeline: optional declarations, then commands separated by `|`. */
  private pipeline(ctx: string, needValue: boolean, maxDecl = 1): void {
    const decl: string[] = [];
    const save = this.pos;
    while (this.peek()?.type === 'variable') {
      const v = this.next()!;
      const t = this.peek();
      if (t?.type === 'declare' || t?.type === 'assign') {
        this.pos++;
        if (t.type === 'assign' && !this.defined(v.text)) fail(`undefined variable "${v.text}"`);
        decl.push(v.text);
        break;
      }
      if (t?.type === 'comma' && ctx === 'range' && decl.length + 1 < maxDecl + 1) {
        this.pos++;
        decl.push(v.text);
        continue;
      }
      this.pos = save;
      decl.length = 0;
      break;
    }
    if (decl.length > maxDecl) fail(`too many declarations in ${ctx}`);
    let stage = 0;
    for (;;) {
      const t = this.peek();
      if (!t || t.type === 'rparen') {
        if (stage === 0) fail(needValue ? `missing value for ${ctx}` : 'missing value for command');
        fail('missing command after "|"');
      }
      this.command(stage);
      stage++;
      if (this.peek()?.type !== 'pipe') break;
      this.pos++;
    }
    const scope = this.stack[this.stack.length - 1]!;
    for (const v of decl) scope.vars.add(v);
  }

  private command(stage: number): void {
    let n = 0;
    let firstType: TokType | undefined;
    for (;;) {
      const t = this.peek();
      if (!t || t.type === 'pipe' || t.type === 'rparen') break;
      if (n === 0) firstType = t.type;
      this.operand();
      n++;
    }
    if (n === 0) fail('empty command');
    if (stage > 0 && firstType && ['bool', 'dot', 'nil', 'number', 'string', 'raw', 'char'].includes(firstType))
      fail(`non executable command in pipeline stage ${stage + 1}`);
    if (n === 1 && firstType === 'nil') fail('nil is not a command');
  }

  private operand(): void {
    const t = this.next()!;
    switch (t.type) {
      case 'ident':
        if (!this.funcs.has(t.text)) fail(`function "${t.text}" not defined`);
        break;
      case 'variable':
        if (!this.defined(t.text)) fail(`undefined variable "${t.text}"`);
        break;
      case 'lparen': {
        this.pipeline('parenthesized pipeline', false);
        const r = this.next();
        if (r?.type !== 'rparen') fail('unclosed left paren');
        break;
      }
      case 'field':
        if (t.chained) fail(`unexpected "${t.text}"`);
        break;
      case 'string':
      case 'raw':
      case 'char':
      case 'number':
      case 'bool':
      case 'nil':
      case 'dot':
        break;
      default:
        fail(`unexpected "${t.text}" in operand`);
    }
    while (this.peek()?.type === 'field' && this.peek()?.chained) this.pos++;
  }

  finish(): void {
    if (this.stack.length > 1) fail(`unexpected EOF: {{${this.stack[this.stack.length - 1]!.kind}}} has no {{end}}`);
  }
}

/**
 * The parse error Go's `text/template` reports for `text`, or `undefined` when it parses.
 * `funcs` and `vars` are the functions and variables in scope (Prometheus' alert ones by default).
 */
export function goTemplateError(
  text: string,
  funcs: ReadonlySet<string> = PROMETHEUS_TEMPLATE_FUNCS,
  vars: readonly string[] = PROMETHEUS_TEMPLATE_VARS,
): string | undefined {
  if (!text.includes('{{')) return undefined;
  try {
    const p = new TemplateParser(funcs, vars);
    for (const piece of splitActions(text)) if ('action' in piece) p.action(piece.action);
    p.finish();
    return undefined;
  } catch (err) {
    if (err instanceof TemplateSyntaxError) return err.message;
    throw err;
  }
}
