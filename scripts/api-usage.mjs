// The public API of the package and where it is used.
//
//   npm run api-usage                      build, then the names per entry point and the unused ones
//   npm run api-usage -- --json            the same as JSON
//   npm run api-usage -- --write-report    rewrite etc/public-api.md (the API report)
//   (node scripts/api-usage.mjs [--json | --write-report] reads dist/ as it is)
//
// Every entry point of package.json `exports` is read twice from dist/: imported (its run-time
// names) and through TypeScript's compiler API over its .d.ts (every name, values and types). A
// name is "used" when it appears in test/, examples/, bench/, docs/ (not the generated docs/api)
// or README.md: in code outside comments, in Markdown inside code (`inline` or fenced), so prose
// that happens to say "render" or "size" does not count. docs/architecture.md is not a use: the
// maintainers' map names internal modules and functions by design. A type, or a class, that a
// public signature names counts too: it is on the API pages with that signature.
//
// The API report (etc/public-api.md) lists every public name on purpose;
// test/unit/public-api.test.ts reads src/ the same way and fails when an entry point and the
// report differ, or when a public name is used nowhere. Written by hand: api-extractor wants one
// .d.ts rollup and one config per entry point; this is one read of the compiler's export table.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

export const REPORT = 'etc/public-api.md';
/** Where uses are looked for, relative to the package root. */
export const CORPUS = ['test', 'examples', 'bench', 'docs', 'README.md'];
/** Not uses: generated pages, the report itself and the test that reads it. */
const NOT_CORPUS = ['docs/api', 'docs/architecture.md', REPORT, 'test/unit/public-api.test.ts'];

/** The entry points of package.json `exports` that are modules: subpath, .d.ts and .js in dist/. */
export function entryPoints(root) {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  return Object.entries(pkg.exports)
    .filter(([, target]) => typeof target === 'object' && target.types)
    .map(([subpath, target]) => ({
      specifier: subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`,
      types: join(root, target.types),
      js: join(root, target.default),
    }));
}

/**
 * Every name each module exports, read by the compiler: `value` when the name exists at run
 * time (function, class, constant), `type` when it is a type only; and `refs`, the other public
 * names each one's declaration mentions (a parameter type, a field, a base class). `files` may be
 * .d.ts (dist/) or .ts (src/; function bodies and initializers of annotated constants are not
 * part of the declaration). The result is keyed by the file.
 */
export function declaredExports(files) {
  const program = ts.createProgram(files, {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    skipLibCheck: true,
    noEmit: true,
    types: ['node'],
  });
  const checker = program.getTypeChecker();
  const resolve = (symbol) => (symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol);
  const modules = files.map((file) => {
    const source = program.getSourceFile(file);
    const moduleSymbol = source && checker.getSymbolAtLocation(source);
    if (!moduleSymbol) throw new Error(`${file}: not a module the compiler can read`);
    return { file, symbols: checker.getExportsOfModule(moduleSymbol).map((s) => ({ name: s.name, target: resolve(s) })) };
  });
  const publicName = new Map(modules.flatMap((m) => m.symbols.map((s) => [s.target, s.name])));
  // A private alias in the package's own files (`type Pod = SolutionPod`) is looked through.
  const own = (d) => !d.getSourceFile().fileName.includes('/node_modules/');
  const references = (target) => {
    const found = new Set();
    const seen = new Set([target]);
    const visit = (node) => {
      if (ts.isBlock(node) || ts.isPrivateIdentifier(node)) return;
      if (ts.canHaveModifiers(node) && ts.getModifiers(node)?.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword)) return;
      if ((ts.isVariableDeclaration(node) || ts.isPropertyDeclaration(node) || ts.isParameter(node)) && node.type) {
        visit(node.name);
        visit(node.type);
        return;
      }
      if (ts.isIdentifier(node)) {
        const symbol = checker.getSymbolAtLocation(node);
        const resolved = symbol && resolve(symbol);
        const name = resolved && publicName.get(resolved);
        if (name !== undefined) {
          if (name !== target.name) found.add(name);
        } else if (resolved && !seen.has(resolved) && resolved.flags & ts.SymbolFlags.Type) {
          seen.add(resolved);
          for (const d of resolved.declarations ?? []) if (own(d)) visit(d);
        }
      }
      ts.forEachChild(node, visit);
    };
    for (const d of target.declarations ?? []) visit(d);
    return found;
  };
  const out = new Map();
  for (const { file, symbols } of modules) {
    const names = new Map();
    for (const { name, target } of symbols.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      names.set(name, {
        kind: target.flags & ts.SymbolFlags.Value ? 'value' : 'type',
        isClass: (target.flags & ts.SymbolFlags.Class) !== 0,
        refs: references(target),
      });
    }
    out.set(file, names);
  }
  return out;
}

/**
 * The public names no user meets: a function or constant used by no test, example, bench or doc;
 * a type or class used by none and named by no other public declaration (what a public signature
 * names is on the API pages with it, and must stay exported: `cluster.solutions` is a
 * `SolutionsApi`).
 */
export function unusedNames(api, used) {
  const referenced = new Set([...api.values()].flatMap((names) => [...names.values()].flatMap((n) => [...n.refs])));
  return new Map(
    [...api].map(([specifier, names]) => [
      specifier,
      [...names].filter(([name, n]) => used.get(name).length === 0 && ((n.kind === 'value' && !n.isClass) || !referenced.has(name))).map(([name, n]) => ({ name, kind: n.kind })),
    ]),
  );
}

function walk(path) {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return [];
  if (!st.isDirectory()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((f) => (f === 'node_modules' ? [] : walk(join(path, f))));
}

/** The text of a file where a use can be: Markdown code, or source without its comments. */
export function usableText(path, text) {
  if (path.endsWith('.md')) {
    const fenced = [...text.matchAll(/^```[^\n]*\n([\s\S]*?)^```/gm)].map((m) => m[1]);
    const prose = text.replace(/^```[^\n]*\n[\s\S]*?^```/gm, '');
    const inline = [...prose.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]);
    return [...fenced, ...inline].join('\n');
  }
  if (/\.(c|m)?[jt]sx?$/.test(path)) {
    return text
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .split('\n')
      .filter((line) => !line.trimStart().startsWith('//'))
      .join('\n');
  }
  return '';
}

/** The files of the corpus with the text a use can be in, relative to `root`. */
export function corpus(root) {
  const skip = NOT_CORPUS.map((p) => join(root, p));
  return CORPUS.flatMap((p) => walk(join(root, p)))
    .filter((f) => !skip.some((s) => f === s || f.startsWith(s + sep)))
    .map((f) => ({ file: relative(root, f).split(sep).join('/'), text: usableText(f, readFileSync(f, 'utf8')) }))
    .filter((f) => f.text !== '');
}

/** For each name, the corpus files that use it (as a whole identifier). */
export function uses(names, files) {
  const idents = files.map(({ file, text }) => ({ file, words: new Set(text.match(/[A-Za-z_$][\w$]*/g) ?? []) }));
  return new Map(names.map((n) => [n, idents.filter((f) => f.words.has(n)).map((f) => f.file)]));
}

/** The API report: every entry point's names, values and types, one a line, sorted. */
export function renderReport(api) {
  const lines = [
    '# Public API',
    '',
    'Every name the package exports, by entry point. Written by `npm run api-usage --',
    '--write-report`; `test/unit/public-api.test.ts` fails when an entry',
    'point and this list differ, so a new public name is added here on purpose, and when a name',
    'is used by no test, example, bench or doc.',
  ];
  for (const [specifier, names] of api) {
    lines.push('', `## ${specifier}`, '');
    for (const [name, n] of names) lines.push(`- ${n.kind} \`${name}\``);
  }
  return lines.join('\n') + '\n';
}

/** The report read back: entry point → name → kind. */
export function parseReport(text) {
  const api = new Map();
  let current;
  for (const line of text.split('\n')) {
    const head = /^## (.+)$/.exec(line);
    if (head) {
      current = new Map();
      api.set(head[1], current);
    }
    const item = /^- (value|type) `([^`]+)`$/.exec(line);
    if (item && current) current.set(item[2], item[1]);
  }
  return api;
}

async function main(argv) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const entries = entryPoints(root);
  const declared = declaredExports(entries.map((e) => e.types));
  const api = new Map();
  const mismatches = [];
  for (const e of entries) {
    const names = declared.get(e.types);
    const runtime = Object.keys(await import(pathToFileURL(e.js).href)).sort();
    const values = [...names].filter(([, n]) => n.kind === 'value').map(([name]) => name);
    if (runtime.join() !== values.join()) mismatches.push(`${e.specifier}: .d.ts values [${values}] but run-time names [${runtime}]`);
    api.set(e.specifier, names);
  }
  if (mismatches.length > 0) throw new Error(`dist/ is stale or inconsistent (run npm run build):\n${mismatches.join('\n')}`);
  if (argv.includes('--write-report')) {
    writeFileSync(join(root, REPORT), renderReport(api));
    console.log(`wrote ${REPORT}`);
    return;
  }
  const all = [...new Set([...api.values()].flatMap((m) => [...m.keys()]))];
  const unused = unusedNames(api, uses(all, corpus(root)));
  const summary = [...api].map(([specifier, names]) => ({
    specifier,
    values: [...names.values()].filter((n) => n.kind === 'value').length,
    types: [...names.values()].filter((n) => n.kind === 'type').length,
    unused: unused.get(specifier),
  }));
  if (argv.includes('--json')) {
    console.log(JSON.stringify(summary, null, 2));
    return;
  }
  let values = 0;
  let types = 0;
  let unusedCount = 0;
  for (const s of summary) {
    values += s.values;
    types += s.types;
    unusedCount += s.unused.length;
    console.log(`${s.specifier}: ${s.values} values, ${s.types} types, ${s.unused.length} unused`);
    for (const u of s.unused) console.log(`  ${u.kind.padEnd(5)} ${u.name}`);
  }
  console.log(`total: ${values + types} names (${values} values, ${types} types), ${unusedCount} used by no test, example, bench or doc (types: nor named by a public declaration)`);
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  main(process.argv.slice(2)).catch((err) => {
    console.error(err.message);
    process.exitCode = 1;
  });
}
