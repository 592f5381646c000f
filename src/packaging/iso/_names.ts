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
  let out = '';
  for (const ch of text) {
    const c = ch.charCodeAt(0);
    if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || c === 0x5f) out += ch;
    else if (c >= 0x61 && c <= 0x7a && ch.length === 1) out += String.fromCharCode(c - 32);
    else out += '_';
  }
  return out;
}

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
 * @param children real (Rock Ridge) names and whether each is a directory, in any order.
 * @returns the identifier for each child, in the same order as `children`; files carry `;1`.
 */
export function assignPrimaryNames(children: readonly { name: string; isDir: boolean }[]): string[] {
  const order = children.map((_, i) => i).sort((a, b) => compareCodeUnits(children[a]!.name, children[b]!.name));
  const taken = new Set<string>();
  const next = new Map<string, number>();
  const out = new Array<string>(children.length);
  for (const i of order) {
    const child = children[i]!;
    const { base, ext } = candidate(child.name, child.isDir);
    const keyOf = (b: string) => (ext ? `${b}.${ext}` : b);
    let chosen = base;
    if (taken.has(keyOf(base))) {
      const limit = child.isDir ? 31 : 30 - ext.length;
      let n = next.get(keyOf(base)) ?? 1;
      for (;;) {
        const suffix = `_${n}`;
        const b = base.slice(0, Math.max(0, limit - suffix.length)) + suffix;
        n++;
        if (!taken.has(keyOf(b))) {
          chosen = b;
          break;
        }
      }
      next.set(keyOf(base), n);
    }
    taken.add(keyOf(chosen));
    out[i] = child.isDir ? chosen : `${chosen}.${ext};1`;
  }
  return out;
}

/** Compares two strings by UTF-16 code units (the order Joliet readers expect). */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Compares two primary identifiers the way ECMA-119 9.3 orders directory records: by name, then
 * by extension (each padded with spaces), then by version.
 */
export function comparePrimary(a: string, b: string): number {
  const split = (id: string): [string, string] => {
    const semi = id.indexOf(';');
    const bare = semi >= 0 ? id.slice(0, semi) : id;
    const dot = bare.indexOf('.');
    return dot >= 0 ? [bare.slice(0, dot), bare.slice(dot + 1)] : [bare, ''];
  };
  const [an, ae] = split(a);
  const [bn, be] = split(b);
  return compareCodeUnits(an, bn) || compareCodeUnits(ae, be);
}

/**
 * The Joliet name of a child: characters Joliet forbids (`* / : ; ? \` and controls) and
 * characters outside the Basic Multilingual Plane become `_`.
 *
 * @returns the name, or `undefined` when it is longer than {@link JOLIET_MAX} characters.
 */
export function jolietName(name: string): string | undefined {
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
