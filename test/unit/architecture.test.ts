import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const doc = readFileSync(join(root, 'docs/architecture.md'), 'utf8');

/** `src/<folder>/` → the modules its table in docs/architecture.md names. */
function documentedModules(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let folder: string | undefined;
  for (const line of doc.split('\n')) {
    const heading = /^### `(src\/(?:[a-z-]+\/)*)`$/.exec(line);
    if (heading) {
      folder = heading[1]!;
      out.set(folder, []);
      continue;
    }
    const row = /^\| `([\w.-]+\.ts)` \|/.exec(line);
    if (row && folder) out.get(folder)!.push(row[1]!);
  }
  return out;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const rel = (p: string) => relative(root, p).split(sep).join('/');
/** The layer of a module: its first folder under src/ (`root` for src/*.ts). */
const layerOf = (file: string) => {
  const parts = file.split('/');
  return parts.length > 2 ? parts[1]! : 'root';
};

/** Every relative import of every module: static, `export … from`, and dynamic `import()`. */
function imports(): { from: string; to: string; dynamic: boolean }[] {
  const out: { from: string; to: string; dynamic: boolean }[] = [];
  for (const p of sourceFiles(join(root, 'src'))) {
    const from = rel(p);
    const text = readFileSync(p, 'utf8');
    for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'";]*?from '(\.[^']+)'|import\('(\.[^']+)'\)/g)) {
      const spec = m[1] ?? m[2]!;
      out.push({ from, to: posix.normalize(posix.join(posix.dirname(from), spec)), dynamic: m[2] !== undefined });
    }
  }
  return out;
}

describe('docs/architecture.md is the map of src/', () => {
  const documented = documentedModules();

  it('names every folder of src/, and only folders that exist', () => {
    const folders = new Set(sourceFiles(join(root, 'src')).map((p) => `${rel(dirname(p))}/`));
    expect([...documented.keys()].sort()).toEqual([...folders].sort());
  });

  it('names every module of each folder, and only modules that exist', () => {
    for (const [folder, modules] of documented) {
      const actual = readdirSync(join(root, folder)).filter((f) => f.endsWith('.ts') && existsSync(join(root, folder, f)));
      expect({ folder, modules: [...modules].sort() }).toEqual({ folder, modules: actual.sort() });
    }
  });

  it('imports point down the layers as it says', () => {
    const below: Record<string, readonly string[]> = {
      root: ['root', 'solution'],
      solution: ['root', 'solution'],
      packaging: ['root', 'solution', 'packaging'],
      cluster: ['root', 'solution', 'packaging', 'cluster'],
      storage: ['root', 'solution', 'packaging', 'cluster', 'storage'],
      testing: ['root', 'solution', 'packaging', 'cluster', 'storage', 'testing'],
      cli: ['root', 'solution', 'packaging', 'cluster', 'storage', 'cli'],
    };
    const wrong = imports()
      .filter(({ from, to, dynamic }) => {
        const a = layerOf(from);
        const b = layerOf(to.replace(/\.js$/, '.ts'));
        if (a === 'cli' && b === 'testing') return !(dynamic && from === 'src/cli/commands/emulator.ts');
        if (from === 'src/version.ts' || to === 'package.json' || to.endsWith('/package.json')) return false;
        return !below[a]?.includes(b);
      })
      .map(({ from, to }) => `${from} → ${to}`);
    expect(wrong).toEqual([]);
  });

  it('no barrel re-exports a private module (its types, which public verbs name, excepted)', () => {
    const wrong = sourceFiles(join(root, 'src'))
      .filter((p) => p.endsWith(`${sep}index.ts`))
      .flatMap((p) => [...readFileSync(p, 'utf8').matchAll(/^export (?!type )[^;]*?from '(\.\/(?:[\w-]+\/)*_[\w-]+\.js)'/gm)].map((m) => `${rel(p)} → ${m[1]}`));
    expect(wrong).toEqual([]);
  });

  it('sees the imports it checks', () => {
    const all = imports();
    expect(all.length).toBeGreaterThan(300);
    expect(all).toContainEqual({ from: 'src/cli/commands/emulator.ts', to: 'src/testing/index.js', dynamic: true });
    expect(all).toContainEqual({ from: 'src/cluster/solutions.ts', to: 'src/packaging/_checksum-file.js', dynamic: false });
  });
});
