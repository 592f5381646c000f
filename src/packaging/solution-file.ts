/**
 * Loading a solution file: `solution.config.ts` (or `.mts`, `.js`, `.mjs`, `.json`, `.yaml`,
 * `.yml`) from a path or a folder. TypeScript is loaded with jiti, so vendors need no build step;
 * JSON and YAML files are validated with the same rules as `defineSolution`.
 *
 * @module
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Document, parseDocument } from 'yaml';
import { type Issue, PackagingError, SdkError, ValidationError } from '../errors.js';
import { isSolution } from '../solution/define-solution.js';
import { type Solution, validateSolution } from '../solution/validate.js';

/** File names looked for, in this order, when a folder is given. */
export const SOLUTION_FILE_NAMES = [
  'solution.config.ts',
  'solution.config.mts',
  'solution.config.js',
  'solution.config.mjs',
  'solution.config.json',
  'solution.config.yaml',
  'solution.config.yml',
] as const;

/** A loaded solution file. */
export interface LoadedSolution {
  readonly solution: Solution;
  /** Absolute path of the file read. */
  readonly path: string;
  /** Folder that relative paths in the definition (image build files, archives) are resolved from. */
  readonly baseDir: string;
}

/**
 * The folder of each solution loaded by {@link loadSolutionFile}, so `pack({ solution })`
 * resolves its relative paths from there and never from the current directory. Weak: it keeps
 * no solution alive.
 */
const loadedFrom = new WeakMap<Solution, string>();

/** The folder a solution was loaded from by {@link loadSolutionFile}, if it was. */
export function solutionBaseDir(solution: Solution): string | undefined {
  return loadedFrom.get(solution);
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

/**
 * Finds the solution file of a path that is either the file itself or its folder.
 *
 * @example
 * ```ts
 * const file = await findSolutionFile('examples/zenko-like'); // …/examples/zenko-like/solution.config.ts
 * ```
 */
export async function findSolutionFile(pathOrDir: string): Promise<string> {
  const abs = resolve(pathOrDir);
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(abs);
  } catch {
    throw new PackagingError('SOLUTION_FILE_NOT_FOUND', `${pathOrDir} does not exist`, {
      hint: 'Give the folder that holds solution.config.ts, or the solution file itself.',
    });
  }
  if (st.isFile()) return abs;
  for (const name of SOLUTION_FILE_NAMES) {
    const candidate = join(abs, name);
    if (await isFile(candidate)) return candidate;
  }
  throw new PackagingError('SOLUTION_FILE_NOT_FOUND', `no solution file in ${pathOrDir}`, {
    hint: `Create one of ${SOLUTION_FILE_NAMES.join(', ')} there.`,
  });
}

async function importModule(file: string): Promise<unknown> {
  if (/\.(m?js)$/.test(file)) return import(pathToFileURL(file).href);
  const { createJiti } = await import('jiti');
  // tryNative: packages (this SDK included) load through Node itself, so the solution file and
  // the SDK share one copy of every module.
  const jiti = createJiti(pathToFileURL(file).href, { tryNative: true, moduleCache: false, fsCache: false });
  return jiti.import(file);
}

/** `:<line>:<column>` of a JSON.parse error that gives a position (Node 20 says "at position N"). */
function jsonPosition(text: string, message: string): string {
  const lc = /line (\d+) column (\d+)/.exec(message);
  if (lc) return `:${lc[1]}:${lc[2]}`;
  const m = /at position (\d+)/.exec(message);
  if (!m) return text.trim() === '' ? ':1:1' : '';
  const before = text.slice(0, Number(m[1]));
  const line = before.split('\n').length;
  return `:${line}:${before.length - before.lastIndexOf('\n')}`;
}

/** `images[0].tag` → `['images', 0, 'tag']`. */
function pathKeys(path: string): (string | number)[] {
  return [...path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map((m) => (m[2] !== undefined ? Number(m[2]) : (m[1] as string)));
}

/**
 * Where a string was expected and the file holds a number (`version: 1.10`) or a YAML 1.1
 * boolean (`y`, `no`, `on`), says what the parser read, with the text as written, and how to
 * quote it.
 */
function explainNumbers(issues: readonly Issue[], value: unknown, yaml: { doc: Document; text: string } | undefined, format: 'YAML' | 'JSON'): Issue[] {
  return issues.map((i) => {
    if (!/expected string, received (number|boolean)/.test(i.message)) return i;
    const keys = pathKeys(i.path);
    let v: unknown = value;
    for (const k of keys) v = v !== null && typeof v === 'object' ? (v as Record<string | number, unknown>)[k] : undefined;
    if (typeof v !== 'number' && typeof v !== 'boolean') return i;
    const node = yaml?.doc.getIn(keys, true) as { range?: [number, number, number] } | undefined;
    const written = node?.range && yaml ? yaml.text.slice(node.range[0], node.range[1]).trim() : String(v);
    const same = written === String(v);
    return {
      ...i,
      code: typeof v === 'number' ? 'NUMBER_NOT_STRING' : 'BOOLEAN_NOT_STRING',
      message: `${format} reads ${written} as the ${typeof v} ${v}${same || typeof v === 'boolean' ? '' : ' (the trailing digits are lost)'}, and a string is needed here`,
      hint: `Quote it: ${keys[keys.length - 1]}: "${written}".`,
    };
  });
}

/**
 * Loads and validates a solution file. Throws a {@link ValidationError} with every issue when the
 * definition is wrong, and a {@link PackagingError} when the file cannot be found or loaded.
 *
 * @example
 * const { solution, baseDir } = await loadSolutionFile('examples/zenko-like');
 */
export async function loadSolutionFile(pathOrDir: string): Promise<LoadedSolution> {
  const path = await findSolutionFile(pathOrDir);
  const baseDir = dirname(path);
  if (!/\.(m?ts|m?js|json|ya?ml)$/.test(path)) {
    throw new PackagingError('SOLUTION_FILE_UNKNOWN_TYPE', `${path} is not a solution file: its name does not end in .ts, .mts, .js, .mjs, .json, .yaml or .yml`, {
      hint: `Give the solution folder, or a file such as ${SOLUTION_FILE_NAMES.join(', ')}.`,
    });
  }
  let value: unknown;
  let yamlDoc: { doc: Document; text: string } | undefined;
  if (/\.(json|ya?ml)$/.test(path)) {
    const text = await readFile(path, 'utf8');
    try {
      if (path.endsWith('.json')) value = JSON.parse(text);
      else {
        const doc = parseDocument(text, { version: '1.1' });
        if (doc.errors.length > 0) throw doc.errors[0];
        value = doc.toJS();
        yamlDoc = { doc, text };
      }
    } catch (err) {
      const where = err instanceof SyntaxError ? jsonPosition(text, err.message) : '';
      throw new PackagingError('SOLUTION_FILE_SYNTAX', `${path}${where} is not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${err instanceof Error ? err.message : String(err)}`, {
        hint: 'Fix the syntax error at the line and column given.',
        cause: err,
      });
    }
  } else {
    let mod: unknown;
    try {
      mod = await importModule(path);
    } catch (err) {
      if (err instanceof SdkError) throw err;
      throw new PackagingError('SOLUTION_FILE_LOAD_FAILED', `${path} could not be loaded: ${err instanceof Error ? err.message : String(err)}`, {
        hint: 'Run it with node or tsc to see the error in context; it must `export default defineSolution({...})`.',
        cause: err,
      });
    }
    value = mod && typeof mod === 'object' && 'default' in mod ? (mod as { default: unknown }).default : undefined;
    if (value === undefined)
      throw new PackagingError('SOLUTION_FILE_NO_DEFAULT', `${path} has no default export`, {
        hint: 'End it with `export default defineSolution({...})`.',
      });
  }
  let solution: Solution;
  if (isSolution(value)) solution = value;
  else {
    const report = validateSolution(value);
    if (!report.solution) throw new ValidationError(explainNumbers(report.issues, value, yamlDoc, path.endsWith('.json') ? 'JSON' : 'YAML'), path);
    solution = report.solution;
  }
  loadedFrom.set(solution, baseDir);
  return { solution, path, baseDir };
}
