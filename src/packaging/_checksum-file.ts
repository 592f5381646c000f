/**
 * The `SHA256SUM` file format, in one place: what `sha256sum` writes and `sha256sum -c` reads
 * (`<64 hex>  <file>`, or `<64 hex> *<file>` in binary mode), one line per file. `pack` writes
 * it, `verify` and `import` read it.
 */
import { basename } from 'node:path';

/** One line of a checksum file. */
export interface ChecksumLine {
  /** Lower-case hex sha256. */
  readonly sha256: string;
  /** The file name as written on the line. */
  readonly file: string;
}

const LINE = /^([0-9a-fA-F]{64}) [ *](.+)$/;

/** Every well-formed line of a checksum file, in file order; other lines are skipped. */
export function parseChecksumFile(text: string): ChecksumLine[] {
  const lines: ChecksumLine[] = [];
  for (const raw of text.split('\n')) {
    const m = LINE.exec(raw.trim());
    if (m) lines.push({ sha256: m[1]!.toLowerCase(), file: m[2]! });
  }
  return lines;
}

/** The distinct digests a checksum file claims for `fileName` (a line naming it, or a path ending in it). */
export function checksumsOf(text: string, fileName: string): Set<string> {
  const claimed = new Set<string>();
  for (const line of parseChecksumFile(text)) {
    if (line.file === fileName || basename(line.file) === fileName) claimed.add(line.sha256);
  }
  return claimed;
}

/**
 * The checksum file `text` (or a new one) with the line of `file` set to `sha256`, the other lines
 * kept, sorted by file name so the output is the same whatever order files were added in.
 */
export function withChecksum(text: string | undefined, file: string, sha256: string): string {
  const kept = (text ?? '')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .filter((l) => l.replace(/^[0-9a-f]{64} [ *]/, '') !== file);
  kept.push(`${sha256}  ${file}`);
  return `${kept.sort((a, b) => (a.slice(66) < b.slice(66) ? -1 : 1)).join('\n')}\n`;
}
