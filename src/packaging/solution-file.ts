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
import { parse as parseYaml } from 'yaml';
import { PackagingError, SdkError, ValidationError } from '../errors.js';
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
  let value: unknown;
  if (/\.(json|ya?ml)$/.test(path)) {
    const text = await readFile(path, 'utf8');
    try {
      value = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text, { version: '1.1' });
    } catch (err) {
      throw new PackagingError('SOLUTION_FILE_SYNTAX', `${path} is not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${err instanceof Error ? err.message : String(err)}`, {
        hint: 'Fix the syntax error at the position given.',
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
  if (isSolution(value)) return { solution: value, path, baseDir };
  const report = validateSolution(value);
  if (!report.solution) throw new ValidationError(report.issues, path);
  return { solution: report.solution, path, baseDir };
}
