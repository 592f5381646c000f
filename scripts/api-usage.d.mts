/** One exported name: a value exists at run time, a type only in declarations. */
export interface ExportedName {
  readonly kind: 'value' | 'type';
  readonly isClass: boolean;
  /** The other public names its declaration mentions. */
  readonly refs: ReadonlySet<string>;
}
/** The API report's path, relative to the package root. */
export const REPORT: string;
/** Where uses are looked for, relative to the package root. */
export const CORPUS: readonly string[];
/** The module entry points of package.json `exports`. */
export function entryPoints(root: string): { specifier: string; types: string; js: string }[];
/** Every name each module file exports, keyed by the file. */
export function declaredExports(files: readonly string[]): Map<string, Map<string, ExportedName>>;
/** The files of the corpus, with the text a use can be in. */
export function corpus(root: string): { file: string; text: string }[];
/** For each name, the corpus files that use it. */
export function uses(names: readonly string[], files: readonly { file: string; text: string }[]): Map<string, string[]>;
/** Per entry point, the names no user meets. */
export function unusedNames(
  api: ReadonlyMap<string, ReadonlyMap<string, ExportedName>>,
  used: ReadonlyMap<string, readonly string[]>,
): Map<string, { name: string; kind: 'value' | 'type' }[]>;
/** The API report text. */
export function renderReport(api: ReadonlyMap<string, ReadonlyMap<string, { readonly kind: 'value' | 'type' }>>): string;
/** The API report read back: entry point → name → kind. */
export function parseReport(text: string): Map<string, Map<string, 'value' | 'type'>>;
/** The text of a file where a use can be: Markdown code, or source without its comments. */
export function usableText(path: string, text: string): string;
