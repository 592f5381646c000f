// The public API is deliberate: every entry point of package.json `exports` exports exactly the
// names of etc/public-api.md, and each of them is met by a user (a test, example, bench or doc
// uses it, or a public signature names it). Read from src/ with the compiler, so no build is
// needed; `npm run api-usage` gives the same from dist/.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { corpus, declaredExports, entryPoints, parseReport, REPORT, unusedNames, usableText, uses } from '../../scripts/api-usage.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const entries = entryPoints(root).map((e) => ({ ...e, src: e.types.replace(join(root, 'dist'), join(root, 'src')).replace(/\.d\.ts$/, '.ts') }));
const declared = declaredExports(entries.map((e) => e.src));
const api = new Map(entries.map((e) => [e.specifier, declared.get(e.src)!]));
const report = parseReport(readFileSync(join(root, REPORT), 'utf8'));
const files = corpus(root);

describe('the public API', () => {
  it(`every entry point exports exactly the names listed in ${REPORT}`, () => {
    const added: string[] = [];
    const gone: string[] = [];
    for (const [specifier, names] of api) {
      const listed = report.get(specifier) ?? new Map();
      for (const [name, n] of names) if (listed.get(name) !== n.kind) added.push(`${specifier}: ${n.kind} ${name}`);
      for (const [name, kind] of listed) if (names.get(name)?.kind !== kind) gone.push(`${specifier}: ${kind} ${name}`);
    }
    // A new public name is a decision: run `npm run api-usage -- --write-report` and commit the
    // report with a doc, example or test that uses the name.
    expect({ added, gone }).toEqual({ added: [], gone: [] });
    expect([...report.keys()]).toEqual([...api.keys()]);
  });

  it('every public name is used by a test, example, bench or doc, or named by a public signature', () => {
    const all = [...new Set([...api.values()].flatMap((m) => [...m.keys()]))];
    const unused = [...unusedNames(api, uses(all, files))].flatMap(([specifier, list]) => list.map((u) => `${specifier}: ${u.kind} ${u.name}`));
    expect(unused).toEqual([]);
  });

  it('the values of the report are what the entry points export at run time', async () => {
    for (const e of entries) {
      const runtime = Object.keys(await import(pathToFileURL(e.src).href)).sort();
      const values = [...(report.get(e.specifier) ?? [])].filter(([, kind]) => kind === 'value').map(([name]) => name);
      expect(runtime, e.specifier).toEqual(values);
    }
  });

  it('a use is code: an identifier outside comments, or Markdown inside backticks', () => {
    const found = uses(['defineSolution', 'connect', 'Size'], files);
    expect(found.get('defineSolution')).toContain('examples/zenko-like/solution.config.ts');
    expect(found.get('defineSolution')).toContain('README.md');
    // The generated API pages and the report are not uses.
    expect(files.some((f) => f.file.startsWith('docs/api/') || f.file === REPORT)).toBe(false);
    const doc = (file: string, text: string) => uses(['render'], [{ file, text: usableText(file, text) }]).get('render');
    expect(doc('a.md', 'The SDK can render a solution.\n')).toEqual([]);
    expect(doc('a.md', 'Call `render(solution)`.\n')).toEqual(['a.md']);
    expect(doc('a.md', '```ts\nconst out = render(solution);\n```\n')).toEqual(['a.md']);
    expect(doc('a.ts', '// render it\n/* render */\nconst x = 1;\n')).toEqual([]);
  });
});
