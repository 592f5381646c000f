/**
 * File identifiers of the primary (ECMA-119 level 3) and Joliet trees. Private to the ISO module.
 *
 * Primary names use d-characters (`A-Z 0-9 _`): a file is `NAME.EXT;1` with at most 30
 * characters for name and extension together, a directory at most 31 characters. Collisions
 * inside one directory are resolved by replacing the end of the name with `_<n>`, children
 * being visited in the order of their real names, so the result is deterministic.
 */

/** Longest Joliet name the writer emits (the `-joliet-long` limit of mkisofs). */
export const JOLIET_MAX = 103;

/** Longest Rock Ridge name, in UTF-8 bytes (NAME_MAX on Linux). */
export const RR_NAME_MAX = 255;

function dChars(text: string): string {
  if (UPPER_D.test(text)) return text;
  if (ANY_CASE_D.test(text)) return text.toUpperCase();
  // Any other character, a character outside the BMP included (the `u` flag), becomes one `_`.
  return text.replace(/[^0-9A-Za-z_]/gu, '_').toUpperCase();
}
const UPPER_D = /^[0-9A-Z_]*$/;
const ANY_CASE_D = /^[0-9A-Za-z_]*$/;

/** A primary file identifier before mangling: the name part and the extension part. */
interface PrimaryCandidate {
  readonly base: string;
  readonly ext: string;
}

function candidate(name: string, isDir: boolean): PrimaryCandidate {
  if (isDir) {
    const base = dChars(name).slice(0, 31);
    return { base: base || '_', ext: '' };
  }
  const dot = name.lastIndexOf('.');
  let base = dChars(dot > 0 ? name.slice(0, dot) : name);
  let ext = dot > 0 ? dChars(name.slice(dot + 1)) : '';
  if (base.length + ext.length > 30) {
    ext = ext.slice(0, 8);
    base = base.slice(0, 30 - ext.length);
  }
  if (!base && !ext) base = '_';
  return { base, ext };
}

/**
 * Assigns unique primary identifiers to the children of one directory.
 *
 * @param children real (Rock Ridge) names and kinds, in any order (sorted by name is fastest).
 * @returns the identifier for each child, in the same order as `children`; files carry `;1`.
 */
export function assignPrimaryNames(children: readonly { readonly name: string; readonly kind: string }[]): string[] {
  const n = children.length;
  let order: number[] | undefined;
  for (let i = 1; i < n; i++) {
    if (children[i - 1]!.name > children[i]!.name) {
      order = children.map((_, j) => j).sort((x, y) => compareCodeUnits(children[x]!.name, children[y]!.name));
      break;
    }
  }
  const taken = new Set<string>();
  const next = new Map<string, number>();
  const out = new Array<string>(n);
  for (let j = 0; j < n; j++) {
    const i = order === undefined ? j : order[j]!;
    const child = children[i]!;
    const isDir = child.kind === 'dir';
    const { base, ext } = candidate(child.name, isDir);
    const baseKey = ext ? `${base}.${ext}` : base;
    let chosen = base;
    let chosenKey = baseKey;
    if (taken.has(baseKey)) {
      const limit = isDir ? 31 : 30 - ext.length;
      let k = next.get(baseKey) ?? 1;
      for (;;) {
        const suffix = `_${k}`;
        const b = base.slice(0, Math.max(0, limit - suffix.length)) + suffix;
        const key = ext ? `${b}.${ext}` : b;
        k++;
        if (!taken.has(key)) {
          chosen = b;
          chosenKey = key;
          break;
        }
      }
      next.set(baseKey, k);
    }
    taken.add(chosenKey);
    out[i] = isDir ? chosen : `${chosen}.${ext};1`;
  }
  return out;
}

/** Compares two strings by UTF-16 code units (the order Joliet readers expect). */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A primary identifier's name and extension: ECMA-119 9.3 orders directory records by name, then
 * by extension (each padded with spaces, which for d-characters is plain code-unit order), then
 * by version.
 */
export function splitPrimary(id: string): [name: string, ext: string] {
  const semi = id.indexOf(';');
  const bare = semi >= 0 ? id.slice(0, semi) : id;
  const dot = bare.indexOf('.');
  return dot >= 0 ? [bare.slice(0, dot), bare.slice(dot + 1)] : [bare, ''];
}

/** Whether {@link jolietName} replaces a character of `name`: a forbidden one, a control, or half of a surrogate pair. */
function hasJolietSubstitution(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x20 || (c >= 0xd800 && c <= 0xdfff) || c === 0x2a || c === 0x2f || c === 0x3a || c === 0x3b || c === 0x3f || c === 0x5c) return true;
  }
  return false;
}

/**
 * The Joliet name of a child: characters Joliet forbids (`* / : ; ? \` and controls) and
 * characters outside the Basic Multilingual Plane become `_`.
 *
 * @returns the name, or `undefined` when it is longer than {@link JOLIET_MAX} characters.
 */
export function jolietName(name: string): string | undefined {
  if (!hasJolietSubstitution(name)) return name.length > JOLIET_MAX ? undefined : name;
  let out = '';
  for (const ch of name) {
    const c = ch.codePointAt(0)!;
    out += c < 0x20 || c > 0xffff || '*/:;?\\'.includes(ch) ? '_' : ch;
  }
  return out.length > JOLIET_MAX ? undefined : out;
}

/** Makes Joliet names unique inside one directory (only needed after character substitution). */
export function uniqueJolietNames(names: readonly string[], realNames: readonly string[]): string[] {
  const order = names.map((_, i) => i).sort((a, b) => compareCodeUnits(realNames[a]!, realNames[b]!));
  const taken = new Set<string>();
  const out = new Array<string>(names.length);
  for (const i of order) {
    let chosen = names[i]!;
    for (let n = 1; taken.has(chosen); n++) {
      const suffix = `_${n}`;
      chosen = names[i]!.slice(0, JOLIET_MAX - suffix.length) + suffix;
    }
    taken.add(chosen);
    out[i] = chosen;
  }
  return out;
}
